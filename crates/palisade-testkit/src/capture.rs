//! An outbox that records every reply instead of delivering it, and a plain-text view of replies.

use std::sync::{Mutex, PoisonError};

use palisade_core::{MessageId, Outbox, Reply, ReplyBody, SendError};

/// Records every delivered reply, in order.
#[derive(Debug, Default)]
pub struct Captured {
    replies: Mutex<Vec<Reply>>,
}

#[async_trait::async_trait]
impl Outbox for Captured {
    async fn deliver(&self, reply: &Reply) -> Result<Option<MessageId>, SendError> {
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
        _ => "<other>".into(),
    }
}
