//! `/privacy`, `/mydata`, `/correct`, `/forget` and `/consent`: the data-subject rights, in every chat.

use std::sync::Arc;

use async_trait::async_trait;

use crate::reply::{ReplyBody, Retract};

/// The tag of data exports sent into chats.
const EXPORTS: &str = "privacy.export";
use serde_json::Value;

use super::{Privacy, RequestKind};
use crate::audit::Outcome;
use crate::flow::{Flow, Step};
use crate::plugin::{Command, Ctx, Input, Plugin, PluginError};
use crate::store::{Durability, RecordKey, Subject};

/// The built-in privacy commands.
#[derive(Debug, Clone)]
pub struct PrivacyPlugin {
    privacy: Arc<Privacy>,
}

impl PrivacyPlugin {
    /// Commands over `privacy`.
    pub fn new(privacy: Arc<Privacy>) -> Self {
        Self { privacy }
    }

    fn overview(&self, ctx: &mut Ctx) {
        let s = self.privacy.settings();
        let mut lines = vec![ctx.text("privacy.controller", &[("controller", &s.controller), ("contact", &s.contact)])];
        lines.push(ctx.text("privacy.kept_intro", &[]));
        for (_, manifest) in self.privacy.manifests() {
            for ns in &manifest.namespaces {
                let days = ns.retention.as_secs() / 86_400;
                let days = days.to_string();
                let days = ctx.text(if days == "1" { "privacy.one_day" } else { "privacy.days" }, &[("days", &days)]);
                lines.push(ctx.text(
                    "privacy.kept_line",
                    &[
                        ("what", ns.description),
                        ("purpose", ns.purpose),
                        ("basis", ns.basis.describe()),
                        ("kept", &days),
                    ],
                ));
            }
        }
        lines.push(ctx.text("privacy.rights", &[("contact", &s.contact)]));
        ctx.reply_private(lines.join("\n"));
    }

    async fn my_data(&self, ctx: &mut Ctx) -> Result<(), PluginError> {
        if self.privacy.is_enrolled(ctx.user()).await? {
            ctx.sensitive("export")?;
        }
        let data = self.privacy.export(ctx.user(), "chat").await?;
        let bytes = serde_json::to_vec_pretty(&data).map_err(PluginError::internal)?;
        // The copy in the chat is taken back when the user asks for their data to be erased.
        let file = ReplyBody::File {
            name: "my-data.json".into(),
            bytes,
            caption: Some(ctx.text("privacy.export_caption", &[])),
        };
        ctx.reply_retractable(true, file, Retract::new(EXPORTS, None));
        Ok(())
    }

    /// Correctable (namespace, record id, field, current value) of this user.
    async fn correctable(&self, ctx: &Ctx) -> Result<Vec<(String, String, String, String)>, PluginError> {
        let subject = Subject::user(ctx.user());
        let mut out = Vec::new();
        for (_, manifest) in self.privacy.manifests() {
            for ns in &manifest.namespaces {
                let fields: Vec<_> = ns.fields.iter().filter(|f| f.correctable).collect();
                if fields.is_empty() {
                    continue;
                }
                for rec in self.privacy.store().list(ns.name, Some(&subject)).await? {
                    let value: Value = serde_json::from_slice(&rec.value).unwrap_or(Value::Null);
                    for f in &fields {
                        if let Some(current) = value.get(f.name).and_then(Value::as_str) {
                            let id = String::from_utf8_lossy(&rec.id).into_owned();
                            out.push((ns.name.to_string(), id, f.name.to_string(), current.to_string()));
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// Rights commands show personal data; in a group they only point to the private chat.
    fn private_only(ctx: &mut Ctx, command: &str) -> bool {
        if ctx.chat().is_private() {
            return true;
        }
        ctx.reply_private(ctx.text("privacy.private_only", &[("command", command)]));
        false
    }

    async fn start_correct(&self, ctx: &mut Ctx) -> Result<(), PluginError> {
        if !Self::private_only(ctx, "correct") {
            return Ok(());
        }
        let choices = self.correctable(ctx).await?;
        if choices.is_empty() {
            ctx.reply_private(ctx.text("privacy.nothing_to_correct", &[]));
            return Ok(());
        }
        let shown: Vec<(String, String)> = choices
            .iter()
            .take(20)
            .enumerate()
            .map(|(i, (ns, _, field, current))| (format!("{ns} {field}: {}", clip(current)), i.to_string()))
            .collect();
        let buttons: Vec<(&str, &str)> = shown.iter().map(|(l, v)| (l.as_str(), v.as_str())).collect();
        ctx.reply_buttons(ctx.text("privacy.which_wrong", &[]), &buttons);
        ctx.start_flow(Flow::new("correction", "pick").with("choices", &choices));
        Ok(())
    }

    async fn apply_correction(&self, flow: &Flow, ctx: &mut Ctx, value: &str) -> Result<Step, PluginError> {
        let (ns, id, field): (String, String, String) =
            (flow.require("namespace")?, flow.require("id")?, flow.require("field")?);
        let subject = Subject::user(ctx.user());
        let key = RecordKey { namespace: &ns, subject: Some(&subject), id: id.as_bytes() };
        let Some(rec) = self.privacy.store().get(key).await? else {
            ctx.reply_private(ctx.text("privacy.record_gone", &[]));
            return Ok(Step::Cancel);
        };
        let mut record: Value = serde_json::from_slice(&rec.value).map_err(PluginError::internal)?;
        record[field.as_str()] = Value::String(value.to_string());
        let bytes = serde_json::to_vec(&record).map_err(PluginError::internal)?;
        self.privacy.store().put(key, &bytes, Durability::Flushed).await?;
        self.privacy.register().completed(RequestKind::Rectification, ctx.user(), "chat").await?;
        let details = [("namespace", ns.clone()), ("field", field.clone())];
        self.privacy.audit().record("privacy.rectify", Some(ctx.user()), Outcome::Success, &details).await?;
        ctx.reply_private(ctx.text("privacy.corrected", &[("field", &field), ("namespace", &ns)]));
        Ok(Step::Done)
    }

    async fn erase(&self, ctx: &mut Ctx) -> Result<Step, PluginError> {
        if self.privacy.is_enrolled(ctx.user()).await? {
            ctx.sensitive("forget")?;
        }
        let blocked = crate::dispatch::Access::is_blocked_in(&**self.privacy.store(), ctx.user()).await?;
        let n = self.privacy.erase(ctx.user(), "chat").await?;
        // The exports sent earlier are deleted from the chat too (or the user is asked to, where that cannot be).
        ctx.retract(EXPORTS);
        let mut told = ctx.text("privacy.erased", &[("records", &n.to_string())]);
        if blocked {
            told.push(' ');
            told.push_str(&ctx.text("privacy.block_stays", &[]));
        }
        ctx.reply_private(told);
        Ok(Step::Done)
    }

    async fn consents(&self, ctx: &mut Ctx) -> Result<(), PluginError> {
        if !Self::private_only(ctx, "consent") {
            return Ok(());
        }
        let records = self.privacy.consents().list(ctx.user()).await?;
        let active: Vec<_> = records.iter().filter(|r| r.withdrawn_at_ms.is_none()).collect();
        if active.is_empty() {
            ctx.reply_private(ctx.text("privacy.no_consents", &[]));
            return Ok(());
        }
        let text: Vec<String> = active
            .iter()
            .map(|r| ctx.text("privacy.consent_line", &[("plugin", &r.plugin), ("version", &r.version.to_string())]))
            .collect();
        let labels: Vec<(String, String)> = active
            .iter()
            .map(|r| (ctx.text("privacy.withdraw_button", &[("plugin", &r.plugin)]), format!("withdraw:{}", r.plugin)))
            .collect();
        let buttons: Vec<(&str, &str)> = labels.iter().map(|(l, v)| (l.as_str(), v.as_str())).collect();
        ctx.reply_buttons(ctx.text("privacy.consents", &[("consents", &text.join("\n"))]), &buttons);
        Ok(())
    }

    async fn withdraw(&self, ctx: &mut Ctx, plugin: &str) -> Result<(), PluginError> {
        if !self.privacy.consents().withdraw(ctx.user(), plugin).await? {
            ctx.reply_private(ctx.text("privacy.no_consent_to_withdraw", &[]));
            return Ok(());
        }
        // Data kept on the basis of that consent goes with it.
        let subject = Subject::user(ctx.user());
        let mut removed = 0;
        for (owner, manifest) in self.privacy.manifests() {
            for ns in manifest.namespaces.iter().filter(|_| owner == plugin) {
                for rec in self.privacy.store().list(ns.name, Some(&subject)).await? {
                    let key = RecordKey { namespace: ns.name, subject: Some(&subject), id: &rec.id };
                    removed += u64::from(self.privacy.store().delete(key, Durability::Flushed).await?);
                }
            }
        }
        let details = [("plugin", plugin.to_string()), ("records", removed.to_string())];
        self.privacy.audit().record("privacy.consent_withdrawn", Some(ctx.user()), Outcome::Success, &details).await?;
        ctx.reply_private(ctx.text("privacy.withdrawn", &[("plugin", plugin), ("records", &removed.to_string())]));
        Ok(())
    }
}

fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(24).collect();
    if s.chars().count() > 24 {
        out.push('…');
    }
    out
}

#[async_trait]
impl Plugin for PrivacyPlugin {
    fn name(&self) -> &'static str {
        "privacy"
    }

    fn commands(&self) -> Vec<Command> {
        vec![
            Command::new("privacy", "What is kept about you, why, for how long, and your rights"),
            Command::new("mydata", "Get a copy of everything stored about you (JSON)"),
            Command::new("correct", "Correct something stored about you"),
            Command::new("forget", "Erase everything stored about you"),
            Command::new("consent", "See or withdraw the consents you gave"),
        ]
    }

    async fn command(&self, command: &str, ctx: &mut Ctx) -> Result<(), PluginError> {
        match command {
            "privacy" => self.overview(ctx),
            "mydata" => self.my_data(ctx).await?,
            "correct" => self.start_correct(ctx).await?,
            "consent" => self.consents(ctx).await?,
            _ => {
                let (erase, keep) = (ctx.text("privacy.erase_button", &[]), ctx.text("privacy.keep_button", &[]));
                ctx.reply_buttons(ctx.text("privacy.erase_question", &[]), &[(&erase, "erase"), (&keep, "keep")]);
                ctx.start_flow(Flow::new("erasure", "confirm"));
            }
        }
        Ok(())
    }

    async fn flow_step(&self, flow: &mut Flow, ctx: &mut Ctx) -> Result<Step, PluginError> {
        let step = flow.step().to_string();
        match (step.as_str(), ctx.input()) {
            ("confirm", Input::Button("erase")) => self.erase(ctx).await,
            ("confirm", Input::Button("keep")) => {
                ctx.reply_private(ctx.text("privacy.nothing_erased", &[]));
                Ok(Step::Cancel)
            }
            ("pick", Input::Button(i)) => {
                let choices: Vec<(String, String, String, String)> = flow.require("choices")?;
                let Some((ns, id, field, _)) = i.parse::<usize>().ok().and_then(|i| choices.get(i)).cloned() else {
                    return Ok(Step::Repeat);
                };
                flow.set("namespace", ns);
                flow.set("id", id);
                flow.set("field", &field);
                ctx.reply_private(ctx.text("privacy.send_correct", &[("field", &field)]));
                Ok(Step::next("value"))
            }
            ("value", Input::Text(v)) if !v.is_empty() && v.chars().count() <= 4_000 => {
                let v = v.to_string();
                self.apply_correction(flow, ctx, &v).await
            }
            _ => {
                ctx.reply_private(ctx.text("privacy.use_buttons", &[]));
                Ok(Step::Repeat)
            }
        }
    }

    async fn button(&self, value: &str, ctx: &mut Ctx) -> Result<(), PluginError> {
        match value.split_once(':') {
            Some(("agree", rest)) => {
                let (plugin, version) = rest.split_once(':').unwrap_or((rest, "1"));
                let version = version.parse().unwrap_or(1);
                self.privacy.consents().give(ctx.user(), plugin, version).await?;
                let details = [("plugin", plugin.to_string()), ("version", version.to_string())];
                self.privacy
                    .audit()
                    .record("privacy.consent_given", Some(ctx.user()), Outcome::Success, &details)
                    .await?;
                ctx.reply(ctx.text("privacy.consent_thanks", &[]));
            }
            Some(("decline", plugin)) => ctx.reply(ctx.text("privacy.declined", &[("plugin", plugin)])),
            Some(("withdraw", plugin)) => self.withdraw(ctx, plugin).await?,
            _ => ctx.reply(ctx.text("router.button_inactive", &[])),
        }
        Ok(())
    }
}
