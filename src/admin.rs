//! `/admin`: staff commands, for holders of the `admin` role only, each behind step-up and audited:
//! inspect or reset a user's two-factor state, block or unblock a user, read recent audit entries and
//! alerts, and reload the configuration's roles.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;

use crate::audit::{Audit, Outcome};
use crate::dispatch::{Access, Roles};
use crate::event::UserRef;
use crate::plugin::{Arg, Command, Ctx, Plugin, PluginError};
use crate::stepup::StepUp;

/// The `/admin` command.
pub struct Admin {
    stepup: Arc<StepUp>,
    access: Arc<Access>,
    audit: Arc<Audit>,
    config_file: PathBuf,
    reloader: Arc<std::sync::OnceLock<Arc<crate::reload::Reloader>>>,
    identities: Option<Arc<crate::identity::Identities>>,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Admin")
    }
}

const USAGE: &str =
    "Usage: /admin 2fa|reset2fa|block|unblock|unlink <platform:id>, /admin audit [n], /admin alerts, /admin reload";

impl Admin {
    /// Admin commands over the bot's services; `config_file` is re-read by `/admin reload`.
    pub fn new(stepup: Arc<StepUp>, access: Arc<Access>, audit: Arc<Audit>, config_file: PathBuf) -> Self {
        Self { stepup, access, audit, config_file, reloader: Arc::default(), identities: None }
    }

    /// `/admin unlink <platform:id>` splits that identity off the person it is linked to.
    #[must_use]
    pub fn with_identities(mut self, identities: Arc<crate::identity::Identities>) -> Self {
        self.identities = Some(identities);
        self
    }

    /// `/admin reload` applies everything a reload applies (see [`crate::reload`]) once `reloader` is set;
    /// until then it reloads roles only.
    #[must_use]
    pub fn with_reloader(mut self, reloader: Arc<std::sync::OnceLock<Arc<crate::reload::Reloader>>>) -> Self {
        self.reloader = reloader;
        self
    }

    fn target(ctx: &Ctx) -> Result<UserRef, PluginError> {
        let raw = ctx.args().get(1).ok_or_else(|| PluginError::user(USAGE))?;
        raw.parse::<UserRef>().map_err(PluginError::user)
    }

    async fn record(&self, ctx: &Ctx, action: &str, target: Option<&UserRef>) -> Result<(), PluginError> {
        let mut details = vec![("action", action.to_string())];
        if let Some(t) = target {
            details.push(("target", self.audit.pseudonym(t).await?));
        }
        self.audit.record(&format!("admin.{action}"), Some(ctx.user()), Outcome::Success, &details).await?;
        Ok(())
    }

    async fn two_factor(&self, ctx: &mut Ctx, target: &UserRef) -> Result<(), PluginError> {
        let text = match self.stepup.enrolment(target).await?.filter(|e| e.active) {
            None => format!("{target}: two-factor verification is off."),
            Some(e) => format!(
                "{target}: two-factor on; {} consecutive failures; {}; recovery codes left: {}.",
                e.failures,
                if e.locked_for_good {
                    "LOCKED"
                } else if e.locked_until_ms > self.stepup.now_ms() {
                    "paused"
                } else {
                    "not locked"
                },
                e.recovery_left()
            ),
        };
        self.record(ctx, "inspect_2fa", Some(target)).await?;
        ctx.reply_private(text);
        Ok(())
    }

    async fn entries(&self, ctx: &mut Ctx, only_alerts: bool) -> Result<(), PluginError> {
        let n = ctx.args().get(1).and_then(|n| n.parse().ok()).unwrap_or(10).min(50);
        let entries = self.audit.entries_since(0).await?;
        let chosen: Vec<_> =
            entries.iter().rev().filter(|e| !only_alerts || e.event == "alert.raised").take(n).collect();
        let lines: Vec<String> = chosen
            .iter()
            .rev()
            .map(|e| {
                let at = humantime::format_rfc3339_seconds(
                    std::time::UNIX_EPOCH + std::time::Duration::from_millis(e.at_ms),
                );
                let detail: Vec<String> = e.details.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!(
                    "#{} {at} {} {:?} {} {}",
                    e.seq,
                    e.event,
                    e.outcome,
                    e.actor.as_deref().unwrap_or("-"),
                    detail.join(" ")
                )
            })
            .collect();
        self.record(ctx, if only_alerts { "read_alerts" } else { "read_audit" }, None).await?;
        ctx.reply_private(if lines.is_empty() { "Nothing recorded yet.".to_string() } else { lines.join("\n") });
        Ok(())
    }

    async fn reload(&self, ctx: &mut Ctx) -> Result<(), PluginError> {
        if let Some(reloader) = self.reloader.get() {
            let by = format!("admin {}", self.audit.pseudonym(ctx.user()).await?);
            let answer = reloader.reload(&by).await.map_err(PluginError::user)?;
            self.record(ctx, "reload", None).await?;
            ctx.reply_private(answer.describe());
            return Ok(());
        }
        let loaded =
            crate::config::Loader::new(&self.config_file).load().map_err(|e| PluginError::user(e.to_string()))?;
        self.access.set_roles(Roles::from_config(&loaded.settings.roles));
        self.record(ctx, "reload", None).await?;
        ctx.reply_private("Configuration checked and roles reloaded. Other changes take effect after a restart.");
        Ok(())
    }
}

#[async_trait]
impl Plugin for Admin {
    fn name(&self) -> &'static str {
        "admin"
    }

    fn commands(&self) -> Vec<Command> {
        vec![
            Command::new(
                "admin",
                "Staff tools: 2fa, reset2fa, block, unblock, unlink <platform:id>; audit [n]; alerts; reload",
            )
            .arg(Arg::required("action"))
            .arg(Arg::optional("target"))
            .role("admin")
            .sensitive(),
        ]
    }

    async fn command(&self, _command: &str, ctx: &mut Ctx) -> Result<(), PluginError> {
        match ctx.args().get(0).unwrap_or_default() {
            "2fa" => {
                let t = Self::target(ctx)?;
                self.two_factor(ctx, &t).await
            }
            "reset2fa" => {
                let t = Self::target(ctx)?;
                let was = self.stepup.disable(&t).await?;
                self.record(ctx, "reset_2fa", Some(&t)).await?;
                ctx.reply_private(if was {
                    format!("Two-factor verification of {t} was reset.")
                } else {
                    format!("{t} had no two-factor setup.")
                });
                Ok(())
            }
            action @ ("block" | "unblock") => {
                let t = Self::target(ctx)?;
                if &t == ctx.user() {
                    return Err(PluginError::user("You cannot block yourself."));
                }
                let changed = self.access.set_blocked(&t, action == "block").await?;
                self.record(ctx, action, Some(&t)).await?;
                ctx.reply_private(format!("{t} {}{action}ed.", if changed { "" } else { "was already " }));
                Ok(())
            }
            "unlink" => {
                let t = Self::target(ctx)?;
                let Some(identities) = &self.identities else {
                    return Err(PluginError::user("Linked identities are not available in this bot."));
                };
                let done = identities.unlink(&t, t.platform, ctx.user()).await?;
                self.record(ctx, "unlink", Some(&t)).await?;
                ctx.reply_private(match done {
                    Some(_) => format!("{t} was unlinked; it starts afresh, the person keeps the data."),
                    None => format!("{t} is not linked to anyone."),
                });
                Ok(())
            }
            "audit" => self.entries(ctx, false).await,
            "alerts" => self.entries(ctx, true).await,
            "reload" => self.reload(ctx).await,
            _ => Err(PluginError::user(USAGE)),
        }
    }
}
