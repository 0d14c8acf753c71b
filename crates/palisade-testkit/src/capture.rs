//! An outbox that records every reply instead of delivering it, and a plain-text view of replies.

use std::sync::{Mutex, PoisonError};

use palisade_core::{MessageId, Outbox, Reply, ReplyBody, SendError};

/// Records every delivered reply, in order, and the buttons each user was shown.
#[derive(Debug, Default)]
pub struct Captured {
    replies: Mutex<Vec<Reply>>,
    /// Every button shown, with the user it was for, latest last.
    shown: Mutex<Vec<(palisade_core::UserRef, String)>>,
}

#[async_trait::async_trait]
impl Outbox for Captured {
    async fn deliver(&self, reply: &Reply) -> Result<Option<MessageId>, SendError> {
        if let ReplyBody::Text { buttons, .. } = &reply.body {
            let mut shown = self.shown.lock().unwrap_or_else(PoisonError::into_inner);
            shown.extend(buttons.iter().map(|b| (reply.user.clone(), b.data.clone())));
        }
        let mut replies = self.replies.lock().unwrap_or_else(PoisonError::into_inner);
        replies.push(reply.clone());
        Ok(Some(MessageId(format!("m{}", replies.len()))))
    }
}

impl Captured {
    /// The replies recorded since the last call.
    pub fn take(&self) -> Vec<Reply> {
        std::mem::take(&mut *self.replies.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The data of the latest button shown to `user` whose plugin data (`plugin:value`, before the runtime
    /// sealed it for the user) is `data`, as the platform would send it back when pressed.
    pub fn shown_button(&self, user: &palisade_core::UserRef, data: &str) -> Option<String> {
        let shown = self.shown.lock().unwrap_or_else(PoisonError::into_inner);
        let plain = |sealed: &str| sealed.split('\u{1f}').next().unwrap_or_default().to_string();
        shown.iter().rev().find(|(u, sealed)| u == user && plain(sealed) == data).map(|(_, sealed)| sealed.clone())
    }
}

/// The text of a reply; images, files, deletions and code prompts render as markers.
pub fn text_of(reply: &Reply) -> String {
    match &reply.body {
        ReplyBody::Text { text, .. } => text.clone(),
        ReplyBody::Image { .. } => "<image>".into(),
        ReplyBody::Delete(id) => format!("<delete {}>", id.0),
        ReplyBody::CodePrompt { text } => format!("<code prompt> {text}"),
        ReplyBody::File { name, .. } => format!("<file {name}>"),
        ReplyBody::Retract { tag } => format!("<retract {tag}>"),
        ReplyBody::Edit { message, text } => format!("<edit {}> {text}", message.0),
        _ => "<other>".into(),
    }
}
