//! The notes plugin: personal notes kept per user.
//!
//! - `/note <text>` saves a note; a short flow asks for its title.
//! - `/notes` lists your notes.
//! - `/note delete <n>` deletes note number `n` after a confirmation with buttons.
//! - `/remind 10m <text>` sends the text back after 10 minutes (a scheduled job: kept encrypted under the
//!   user, it survives restarts and goes with an erasure).
//!
//! Notes are personal data: they are stored per user in the plugin's namespace and never logged.

use palisade_core::prelude::*;
use serde::{Deserialize, Serialize};

/// `[plugins.notes]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct NotesSettings {
    /// Most notes one user may keep.
    pub max_notes: usize,
    /// Longest title, in characters.
    pub max_title: usize,
    /// Ask users for consent before keeping their notes (shown by `/privacy`, withdrawn with `/consent`).
    pub require_consent: bool,
}

impl Default for NotesSettings {
    fn default() -> Self {
        Self { max_notes: 100, max_title: 80, require_consent: false }
    }
}

/// A delay typed as `10m`, `2h` or `3d` (at most 30 days): a typed argument of the plugin's own.
struct Delay(std::time::Duration);

impl palisade_core::plugin::ArgValue for Delay {
    const KIND: palisade_core::plugin::ArgKind = palisade_core::plugin::ArgKind::Text;

    fn parse_arg(word: &str) -> Option<Self> {
        reminder_delay(word).map(Self)
    }

    fn expected() -> &'static str {
        "a delay like 10m, 2h or 3d (at most 30 days)"
    }
}

/// `10m`, `2h`, `3d` as a delay of at most 30 days.
fn reminder_delay(when: &str) -> Option<std::time::Duration> {
    let (n, unit) = when.split_at(when.len().checked_sub(1)?);
    let n: u64 = n.parse().ok().filter(|n| *n > 0)?;
    let secs = match unit {
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    (secs <= 30 * 86_400).then(|| std::time::Duration::from_secs(secs))
}

/// One saved note.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// Its title.
    pub title: String,
    /// Its text.
    pub text: String,
    /// When it was saved, ms since the Unix epoch.
    pub created_at_ms: u64,
}

/// The notes plugin.
#[derive(Debug, Default)]
pub struct Notes {
    settings: NotesSettings,
}

impl Notes {
    /// A notes plugin with `settings`.
    pub fn new(settings: NotesSettings) -> Self {
        Self { settings }
    }

    async fn start_new(&self, ctx: &mut Ctx, text: String) -> Result<(), PluginError> {
        if ctx.store().list::<Note>().await?.len() >= self.settings.max_notes {
            return Err(PluginError::user(format!(
                "You already have {} notes, the most I keep. Delete one with /note delete <n> first.",
                self.settings.max_notes
            )));
        }
        ctx.start_flow(Flow::new("new note", "title").with("text", text));
        ctx.reply("What title should this note have?");
        Ok(())
    }

    async fn start_delete(&self, ctx: &mut Ctx, number: Option<&str>) -> Result<(), PluginError> {
        let notes = ctx.store().list::<Note>().await?;
        let pick = number.and_then(|n| n.parse::<usize>().ok()).and_then(|n| n.checked_sub(1));
        let Some((id, note)) = pick.and_then(|i| notes.get(i)) else {
            return Err(PluginError::user(format!("Give a note number from /notes (you have {}).", notes.len())));
        };
        ctx.start_flow(Flow::new("note deletion", "confirm").with("id", id));
        ctx.reply_buttons(
            format!("Delete the note \u{201c}{}\u{201d}?", note.title),
            &[("Delete", "yes"), ("Keep", "no")],
        );
        Ok(())
    }

    async fn list(ctx: &mut Ctx) -> Result<(), PluginError> {
        let notes = ctx.store().list::<Note>().await?;
        if notes.is_empty() {
            ctx.reply("You have no notes yet. Save one with /note <text>.");
            return Ok(());
        }
        let lines: Vec<String> =
            notes.iter().enumerate().map(|(i, (_, n))| format!("{}. {} — {}", i + 1, n.title, n.text)).collect();
        ctx.reply(format!("Your notes:\n{}", lines.join("\n")));
        Ok(())
    }

    async fn save(&self, flow: &Flow, ctx: &mut Ctx, title: &str) -> Result<Step, PluginError> {
        let count = title.chars().count();
        if count == 0 || count > self.settings.max_title {
            ctx.reply(format!("A title needs 1 to {} characters. What title should it have?", self.settings.max_title));
            return Ok(Step::Repeat);
        }
        let note = Note { title: title.to_string(), text: flow.require("text")?, created_at_ms: ctx.now_ms() };
        let store = ctx.store();
        // Ids sort by creation time, so /notes lists oldest first; bump on a same-millisecond clash.
        let mut stamp = note.created_at_ms;
        while store.get::<Note>(&format!("{stamp:020}")).await?.is_some() {
            stamp += 1;
        }
        store.put(&format!("{stamp:020}"), &note, Durability::Flushed).await?;
        ctx.reply(format!("Saved \u{201c}{title}\u{201d}. /notes lists your notes."));
        Ok(Step::Done)
    }

    async fn confirm_delete(flow: &Flow, ctx: &mut Ctx, yes: bool) -> Result<Step, PluginError> {
        if !yes {
            ctx.reply("Kept it.");
            return Ok(Step::Cancel);
        }
        // Operators can require step-up here with `[stepup] require_for = ["notes.delete"]`.
        ctx.checkpoint("delete")?;
        let id: String = flow.require("id")?;
        let existed = ctx.store().delete(&id, Durability::Flushed).await?;
        ctx.reply(if existed { "Deleted." } else { "That note was already gone." });
        Ok(Step::Done)
    }
}

#[async_trait]
impl Plugin for Notes {
    fn name(&self) -> &'static str {
        "notes"
    }

    fn manifest(&self) -> DataManifest {
        let basis = if self.settings.require_consent { LegalBasis::Consent } else { LegalBasis::Contract };
        let notes = Namespace::new("notes", "the notes you save", "show your notes back to you", basis, days(365))
            .field("title", "the note's title", true)
            .field("text", "the note's text", true)
            .field("created_at_ms", "when you saved it", false);
        let manifest = DataManifest::with(notes);
        if self.settings.require_consent {
            manifest
                .consent(1, "Notes keeps the text of each note you save, encrypted, until you delete it or for a year.")
        } else {
            manifest
        }
    }

    fn commands(&self) -> Vec<Command> {
        vec![
            Command::new("note", "Save a note (I ask for a title); `/note delete <n>` deletes one")
                .arg(Arg::text("text")),
            Command::new("notes", "List your notes"),
            Command::new("remind", "Remind you later: `/remind 10m call the dentist` (m, h or d)")
                .arg(Arg::typed::<Delay>("when"))
                .arg(Arg::text("text")),
        ]
    }

    async fn job(&self, _name: &str, ctx: &mut Ctx) -> Result<(), PluginError> {
        let text = ctx.job().and_then(|j| j.data["text"].as_str()).unwrap_or_default().to_string();
        ctx.reply(format!("Reminder: {text}"));
        Ok(())
    }

    async fn command(&self, command: &str, ctx: &mut Ctx) -> Result<(), PluginError> {
        match (command, ctx.args().get(0)) {
            ("notes", _) => Self::list(ctx).await,
            ("remind", Some(when)) => {
                let when = when.to_string();
                let (Delay(after), text) = (ctx.arg("when")?, ctx.arg::<String>("text")?);
                ctx.schedule("reminder", after, serde_json::json!({ "text": text }))?;
                ctx.reply(format!("I will remind you in {when}: {text}"));
                Ok(())
            }
            ("note", Some("delete")) if ctx.args().len() <= 2 => {
                let n = ctx.args().get(1).map(str::to_string);
                self.start_delete(ctx, n.as_deref()).await
            }
            _ => {
                let text = ctx.args().raw().to_string();
                self.start_new(ctx, text).await
            }
        }
    }

    async fn flow_step(&self, flow: &mut Flow, ctx: &mut Ctx) -> Result<Step, PluginError> {
        let input = ctx.input();
        match (flow.step(), input) {
            ("title", Input::Text(title)) => {
                let title = title.to_string();
                self.save(flow, ctx, &title).await
            }
            ("confirm", Input::Button(v)) => Self::confirm_delete(flow, ctx, v == "yes").await,
            ("confirm", Input::Text(t)) if ["yes", "no"].contains(&t.to_ascii_lowercase().as_str()) => {
                Self::confirm_delete(flow, ctx, t.eq_ignore_ascii_case("yes")).await
            }
            ("confirm", _) => {
                ctx.reply("Press Delete or Keep (or answer yes or no).");
                Ok(Step::Repeat)
            }
            _ => {
                ctx.reply("Please answer with text.");
                Ok(Step::Repeat)
            }
        }
    }
}
