//! What one reply becomes on Discord: a message (text, buttons, an image, ephemeral or not) or the
//! verification modal, and the serenity builders for each way of sending it.
//!
//! Every message is sent with mentions disabled, so text a user supplied (a recipient named `@everyone`)
//! cannot ping anyone.

use palisade_core::{Button, Reply, ReplyBody, SendError};
use serenity::all::{ButtonStyle, InputTextStyle};
use serenity::builder::{
    CreateActionRow, CreateAllowedMentions, CreateAttachment, CreateButton, CreateInputText,
    CreateInteractionResponseFollowup, CreateInteractionResponseMessage, CreateMessage, CreateModal,
    EditInteractionResponse,
};

use crate::components::{Components, MODAL_ID, Target};

/// Buttons per row and rows per message (Discord's limits).
const PER_ROW: usize = 5;
const ROWS: usize = 5;
/// Longest button label and modal title Discord accepts.
const LABEL_MAX: usize = 80;
const TITLE_MAX: usize = 45;

/// A message to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The text (may be empty with an image).
    pub text: String,
    /// Button rows.
    pub rows: Vec<CreateActionRow>,
    /// A file to attach: name and bytes (an image is shown inline).
    pub file: Option<(String, Vec<u8>)>,
    /// Only the user sees it (flags 64), where the way of sending supports it.
    pub ephemeral: bool,
}

/// What a reply becomes.
#[derive(Debug, Clone)]
pub enum Shape {
    /// A message.
    Message(Outgoing),
    /// The verification form (only possible as the first answer to a command or button press);
    /// `fallback` is the message to send where a modal cannot be opened.
    Modal {
        /// The form.
        modal: CreateModal,
        /// A message with an "Enter code" button that opens the form.
        fallback: Outgoing,
    },
    /// Nothing Discord can do (deleting a user's message: interactions have none).
    Nothing,
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// `text` as an input label: Discord's limit, with an ellipsis where it was cut.
fn label(text: &str) -> String {
    if text.chars().count() <= TITLE_MAX { text.to_string() } else { format!("{}…", truncate(text, TITLE_MAX - 1)) }
}

fn no_mentions() -> CreateAllowedMentions {
    CreateAllowedMentions::new()
}

fn registry_failed(e: palisade_crypto::CryptoError) -> SendError {
    SendError::Rejected(format!("could not make a button id: {e}"))
}

/// Button rows for `buttons` sent to `chat`, with opaque ids.
pub async fn rows(components: &Components, chat: &str, buttons: &[Button]) -> Result<Vec<CreateActionRow>, SendError> {
    if buttons.len() > PER_ROW * ROWS {
        tracing::warn!(buttons = buttons.len(), "Discord shows at most 25 buttons; the rest are dropped");
    }
    let mut rows = Vec::new();
    for chunk in buttons.chunks(PER_ROW).take(ROWS) {
        let mut row = Vec::new();
        for b in chunk {
            let target = Target::Button { chat: chat.to_string(), data: b.data.clone() };
            let id = components.register(target).await.map_err(registry_failed)?;
            row.push(CreateButton::new(id).label(truncate(&b.label, LABEL_MAX)).style(ButtonStyle::Primary));
        }
        rows.push(CreateActionRow::Buttons(row));
    }
    Ok(rows)
}

/// The verification modal for a code prompt: its title names what is being confirmed, and the details the
/// code approves (the prompt's `• key: value` lines) label the input — cut to Discord's 45 characters, so
/// the full details stay in the message the user confirmed from.
pub fn modal(prompt: &str) -> CreateModal {
    let end = [", ", ": ", ". ", ":\n", "\n"].iter().filter_map(|sep| prompt.find(sep)).min().unwrap_or(prompt.len());
    let head = prompt[..end].trim();
    let title = if head.is_empty() { "Verification".to_string() } else { truncate(head, TITLE_MAX) };
    let details: Vec<&str> = prompt.lines().filter_map(|l| l.strip_prefix("• ")).collect();
    let label =
        if details.is_empty() { "Authenticator or recovery code".to_string() } else { label(&details.join(", ")) };
    let input = CreateInputText::new(InputTextStyle::Short, label, "code")
        .placeholder("6-digit code")
        .min_length(6)
        .max_length(32)
        .required(true);
    CreateModal::new(MODAL_ID, title).components(vec![CreateActionRow::InputText(input)])
}

/// What `reply` becomes; button ids are registered in `components`.
pub async fn shape(reply: &Reply, components: &Components) -> Result<Shape, SendError> {
    // A reply the bot must take back (a second factor, a copy of someone's data) is never a message that
    // stays: as an interaction answer it is ephemeral (gone when the user leaves), as a DM it is deleted.
    let ephemeral = reply.private || reply.retract.is_some();
    Ok(match &reply.body {
        ReplyBody::Text { text, buttons } => Shape::Message(Outgoing {
            text: text.clone(),
            rows: rows(components, &reply.chat.id, buttons).await?,
            file: None,
            ephemeral,
        }),
        ReplyBody::Image { png, caption } => Shape::Message(Outgoing {
            text: caption.clone().unwrap_or_default(),
            rows: Vec::new(),
            file: Some(("image.png".into(), png.clone())),
            ephemeral,
        }),
        ReplyBody::File { name, bytes, caption } => Shape::Message(Outgoing {
            text: caption.clone().unwrap_or_default(),
            rows: Vec::new(),
            file: Some((file_name(name), bytes.clone())),
            ephemeral,
        }),
        ReplyBody::CodePrompt { text } => {
            let id = components
                .register(Target::CodeEntry { user: reply.user.id.clone(), prompt: text.clone() })
                .await
                .map_err(registry_failed)?;
            let button = CreateButton::new(id).label("Enter code").style(ButtonStyle::Primary);
            let fallback = Outgoing {
                text: text.clone(),
                rows: vec![CreateActionRow::Buttons(vec![button])],
                file: None,
                ephemeral: true,
            };
            Shape::Modal { modal: modal(text), fallback }
        }
        ReplyBody::Delete(_) | ReplyBody::Edit { .. } => Shape::Nothing,
        _ => return Err(SendError::Unsupported("this kind of reply on Discord")),
    })
}

/// A file name Discord shows safely: letters, digits, `.`, `-` and `_` only.
fn file_name(name: &str) -> String {
    let clean: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || ".-_".contains(c) { c } else { '_' }).take(64).collect();
    if clean.trim_matches(['.', '_']).is_empty() { "file".into() } else { clean }
}

fn attachment((name, bytes): &(String, Vec<u8>)) -> CreateAttachment {
    CreateAttachment::bytes(bytes.clone(), name.clone())
}

impl Outgoing {
    /// As the first answer to an interaction (type 4). Files cannot be sent this way.
    pub fn initial(&self) -> CreateInteractionResponseMessage {
        CreateInteractionResponseMessage::new()
            .content(&self.text)
            .components(self.rows.clone())
            .ephemeral(self.ephemeral)
            .allowed_mentions(no_mentions())
    }

    /// As a follow-up message.
    pub fn followup(&self) -> CreateInteractionResponseFollowup {
        let mut b = CreateInteractionResponseFollowup::new()
            .components(self.rows.clone())
            .ephemeral(self.ephemeral)
            .allowed_mentions(no_mentions());
        if !self.text.is_empty() {
            b = b.content(&self.text);
        }
        match &self.file {
            Some(file) => b.add_file(attachment(file)),
            None => b,
        }
    }

    /// As the replacement of a deferred ("thinking") original response.
    pub fn edit(&self) -> EditInteractionResponse {
        let b = EditInteractionResponse::new()
            .content(&self.text)
            .components(self.rows.clone())
            .allowed_mentions(no_mentions());
        match &self.file {
            Some(file) => b.new_attachment(attachment(file)),
            None => b,
        }
    }

    /// As a plain channel message (no interaction to answer); channel messages cannot be ephemeral, so
    /// private ones are sent to a DM channel by the caller.
    pub fn channel_message(&self) -> CreateMessage {
        let mut b = CreateMessage::new().components(self.rows.clone()).allowed_mentions(no_mentions());
        if !self.text.is_empty() {
            b = b.content(&self.text);
        }
        match &self.file {
            Some(file) => b.add_file(attachment(file)),
            None => b,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_modal_is_titled_by_what_is_confirmed_and_file_names_are_tame() {
        let m = serde_json::to_value(modal("To confirm bank.transfer, send the 6-digit code. Send /cancel to stop."));
        let m = m.unwrap_or_default();
        assert_eq!(m["title"], "To confirm bank.transfer");
        assert_eq!(m["custom_id"], MODAL_ID);
        let input = &m["components"][0]["components"][0];
        assert_eq!((input["type"].as_u64(), input["min_length"].as_u64()), (Some(4), Some(6)));
        assert_eq!(file_name("../../etc/passwd"), ".._.._etc_passwd");
        assert_eq!(file_name("export 2025.json"), "export_2025.json");
        assert_eq!(file_name("…"), "file");
    }

    #[test]
    fn a_single_use_modal_labels_its_input_with_the_details() {
        let prompt = "To confirm bank.transfer:\n• amount: 10.00\n• to: Bob\nSend the 6-digit code. The code approves exactly this, once.";
        let m = serde_json::to_value(modal(prompt)).unwrap_or_default();
        assert_eq!(m["title"], "To confirm bank.transfer");
        assert_eq!(m["components"][0]["components"][0]["label"], "amount: 10.00, to: Bob");
        let long = format!("To confirm bank.transfer:\n• to: {}\nSend it.", "x".repeat(80));
        let m = serde_json::to_value(modal(&long)).unwrap_or_default();
        let label = m["components"][0]["components"][0]["label"].as_str().unwrap_or_default().to_string();
        assert!(label.ends_with('…') && label.chars().count() == TITLE_MAX, "{label}");
    }
}
