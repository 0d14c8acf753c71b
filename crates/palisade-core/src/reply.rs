//! Outbound replies and the splitting of long text to fit a platform's message limit.

use crate::event::{ChatRef, MessageId, UserRef};

/// A button under a message. `data` is opaque to the platform: the bot chose it and resolves it itself.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Button {
    /// What the user sees.
    pub label: String,
    /// What comes back in [`crate::EventKind::Button`] when it is pressed.
    pub data: String,
}

impl Button {
    /// A button labelled `label` that answers with `data`.
    pub fn new(label: impl Into<String>, data: impl Into<String>) -> Self {
        Self { label: label.into(), data: data.into() }
    }
}

/// What to deliver.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum ReplyBody {
    /// Text, optionally with buttons under it.
    Text {
        /// The message text.
        text: String,
        /// Buttons, in display order.
        buttons: Vec<Button>,
    },
    /// A PNG image with an optional caption (e.g. the TOTP QR code).
    Image {
        /// PNG bytes.
        png: Vec<u8>,
        /// Caption under the image.
        caption: Option<String>,
    },
    /// Delete a message (for instance the one in which the user typed a code).
    Delete(MessageId),
    /// Replace the text of a message the bot sent earlier.
    Edit {
        /// The message, as its platform's outbox returned it.
        message: MessageId,
        /// Its new text.
        text: String,
    },
    /// A file (a data export), delivered as a document or attachment.
    File {
        /// File name shown to the user.
        name: String,
        /// Contents.
        bytes: Vec<u8>,
        /// Caption.
        caption: Option<String>,
    },
    /// Ask the user for a verification code. Adapters with private input (modals) show a form; others send
    /// the text privately and take the next message as the answer.
    CodePrompt {
        /// What is being confirmed and how to answer.
        text: String,
    },
    /// Take back (delete) every message sent to this reply's user that was tagged `tag` with a [`Retract`].
    /// The runtime turns it into deletions; adapters never receive it.
    Retract {
        /// The tag the messages were sent with.
        tag: String,
    },
}

/// A message the bot takes back later because it carries something that must not stay in the chat: a second
/// factor, or a copy of someone's personal data. The runtime remembers where each part landed and deletes
/// them all when a [`ReplyBody::Retract`] with the same tag is delivered, or `within` at the latest. Where a
/// platform cannot delete, the user is asked to delete it themselves.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Retract {
    /// What kind of message it is (`twofactor.setup`): retracted together.
    pub tag: String,
    /// Delete it after this long at the latest.
    pub within: Option<std::time::Duration>,
}

impl Retract {
    /// Messages tagged `tag`, deleted when retracted or after `within`.
    pub fn new(tag: impl Into<String>, within: Option<std::time::Duration>) -> Self {
        Self { tag: tag.into(), within }
    }
}

/// One outbound action for one adapter.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Reply {
    /// The chat the conversation happens in.
    pub chat: ChatRef,
    /// The user it answers; private replies go to them alone.
    pub user: UserRef,
    /// Deliver so only `user` sees it: a DM, or an ephemeral message where the platform has them.
    pub private: bool,
    /// The content.
    pub body: ReplyBody,
    /// Whether (and when) the bot takes this message back.
    pub retract: Option<Retract>,
}

impl Reply {
    /// A short label for logs; never includes content.
    pub fn kind_label(&self) -> &'static str {
        match self.body {
            ReplyBody::Text { .. } => "text",
            ReplyBody::Image { .. } => "image",
            ReplyBody::Delete(_) => "delete",
            ReplyBody::CodePrompt { .. } => "code prompt",
            ReplyBody::Edit { .. } => "edit",
            ReplyBody::File { .. } => "file",
            ReplyBody::Retract { .. } => "retract",
        }
    }

    /// Splits a text reply longer than `max_chars` into several, keeping buttons on the last part.
    /// Other replies are returned unchanged. A retractable reply's original text is wiped once split.
    pub fn split(mut self, max_chars: usize) -> Vec<Reply> {
        let ReplyBody::Text { text, buttons } = &self.body else {
            return vec![self];
        };
        let parts = split_text(text, max_chars);
        if parts.len() <= 1 {
            return vec![self];
        }
        let last = parts.len() - 1;
        let split = parts
            .into_iter()
            .enumerate()
            .map(|(i, part)| Reply {
                chat: self.chat.clone(),
                user: self.user.clone(),
                private: self.private,
                body: ReplyBody::Text { text: part, buttons: if i == last { buttons.clone() } else { vec![] } },
                retract: self.retract.clone(),
            })
            .collect();
        if self.retract.is_some() {
            self.wipe();
        }
        split
    }

    /// Overwrites the content with zeros (texts, captions, file and image bytes). The runtime calls it on
    /// replies it takes back later (second factors, copies of personal data) once they are delivered, so
    /// its plain copies do not linger in freed memory; copies a platform library made while sending are
    /// beyond its reach.
    pub fn wipe(&mut self) {
        use zeroize::Zeroize;
        match &mut self.body {
            ReplyBody::Text { text, .. } | ReplyBody::CodePrompt { text } | ReplyBody::Edit { text, .. } => {
                text.zeroize()
            }
            ReplyBody::Image { png, caption } => {
                png.zeroize();
                caption.zeroize();
            }
            ReplyBody::File { name, bytes, caption } => {
                name.zeroize();
                bytes.zeroize();
                caption.zeroize();
            }
            _ => {}
        }
    }
}

/// Splits `text` into pieces of at most `max_chars` characters, preferring (in order) paragraph breaks,
/// line breaks, sentence ends and spaces, and cutting inside a word only when a word alone is too long.
/// Whitespace at a cut is dropped; nothing else is lost.
pub fn split_text(text: &str, max_chars: usize) -> Vec<String> {
    let max_chars = max_chars.max(1);
    let mut parts = Vec::new();
    let mut rest = text;
    while rest.chars().count() > max_chars {
        let limit = rest.char_indices().nth(max_chars).map_or(rest.len(), |(i, _)| i);
        let window = &rest[..limit];
        let cut = best_cut(window).unwrap_or(limit);
        let (head, tail) = rest.split_at(cut);
        let head = head.trim_end();
        if !head.is_empty() {
            parts.push(head.to_string());
        }
        rest = tail.trim_start();
    }
    if !rest.is_empty() || parts.is_empty() {
        parts.push(rest.to_string());
    }
    parts
}

/// The byte index after the best boundary inside `window`, if any lies past its first quarter.
fn best_cut(window: &str) -> Option<usize> {
    let floor = window.len() / 4;
    for sep in ["\n\n", "\n", ". ", "! ", "? ", " "] {
        if let Some(i) = window.rfind(sep)
            && i + sep.len() > floor
        {
            return Some(i + sep.len());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_one_part() {
        assert_eq!(split_text("hello", 10), ["hello"]);
        assert_eq!(split_text("", 10), [""]);
    }

    #[test]
    fn prefers_paragraphs_then_lines_then_words() {
        let text = "first paragraph.\n\nsecond one is here";
        assert_eq!(split_text(text, 25), ["first paragraph.", "second one is here"]);
        assert_eq!(split_text("aaa bbb ccc ddd", 8), ["aaa bbb", "ccc ddd"]);
        assert_eq!(split_text("line one\nline two", 12), ["line one", "line two"]);
    }

    #[test]
    fn cuts_long_words_and_respects_multibyte_characters() {
        let parts = split_text("ééééééééé", 4);
        assert_eq!(parts, ["éééé", "éééé", "é"]);
        for p in split_text(&"word ".repeat(1000), 4096) {
            assert!(p.chars().count() <= 4096);
        }
    }

    #[test]
    fn nothing_but_boundary_whitespace_is_lost() {
        let text = "The quick brown fox. Jumps over\nthe lazy dog! Again and again?  Yes.";
        for max in 3..text.len() {
            let joined: String = split_text(text, max).concat();
            let squeezed: String = text.split_whitespace().collect();
            assert_eq!(joined.split_whitespace().collect::<String>(), squeezed, "max {max}");
        }
    }

    #[test]
    fn a_wiped_reply_keeps_no_content_and_split_parts_keep_their_retraction() {
        let user = crate::UserRef::new(crate::Platform::CONSOLE, "ann");
        let reply = Reply {
            chat: ChatRef::direct_with(&user),
            user,
            private: true,
            body: ReplyBody::Text { text: "codes ".repeat(10), buttons: Vec::new() },
            retract: Some(Retract::new("twofactor.recovery", None)),
        };
        let mut parts = reply.clone().split(20);
        assert!(parts.len() > 1 && parts.iter().all(|p| p.retract == reply.retract));
        parts[0].wipe();
        assert_eq!(parts[0].body, ReplyBody::Text { text: String::new(), buttons: Vec::new() });
        let mut file = Reply { body: ReplyBody::File { name: "x".into(), bytes: vec![1; 8], caption: None }, ..reply };
        file.wipe();
        assert!(matches!(&file.body, ReplyBody::File { name, bytes, .. } if name.is_empty() && bytes.is_empty()));
    }
}
