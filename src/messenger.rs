//! The runtime's [`Messenger`]: messages plugins write first, and edits and deletions of what they sent.
//! They leave through the send scheduler's pacing like replies ([`Outboxes::send_now`]): to a person
//! privately (their direct chat), or posted in a group chat the bot has been written to in
//! ([`ChatBook`]). Each is audited under the pseudonym of the person it was sent to or for, with the
//! plugin's name.

use std::sync::{Arc, OnceLock};

use crate::adapter::SendError;
use crate::chats::ChatBook;
use crate::event::{ChatRef, UserRef};
use crate::outboxes::Outboxes;
use crate::reply::{Reply, ReplyBody};
use crate::services::{AuditLog, Outcome};
use crate::services::{Messenger, Sent};

/// Sends through the dispatcher's outboxes once they are known.
pub struct RuntimeMessenger {
    max_file_bytes: std::sync::atomic::AtomicU64,
    outboxes: OnceLock<Outboxes>,
    audit: OnceLock<Arc<dyn AuditLog>>,
    chats: Arc<ChatBook>,
}

impl std::fmt::Debug for RuntimeMessenger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RuntimeMessenger")
    }
}

impl RuntimeMessenger {
    /// A messenger that posts only in the chats `chats` knows.
    pub fn new(chats: Arc<ChatBook>) -> Self {
        Self { max_file_bytes: Default::default(), outboxes: OnceLock::new(), audit: OnceLock::new(), chats }
    }

    /// Files fetched are capped at `bytes` (`[dispatch] max_file_bytes`).
    pub fn cap_files(&self, bytes: u64) {
        self.max_file_bytes.store(bytes, std::sync::atomic::Ordering::Relaxed);
    }

    /// Where messages go, and where they are audited (set once the dispatcher is built).
    pub fn connect(&self, outboxes: Outboxes, audit: Arc<dyn AuditLog>) {
        let _ = self.outboxes.set(outboxes);
        let _ = self.audit.set(audit);
    }

    async fn now(&self, reply: Reply) -> Result<Option<crate::event::MessageId>, SendError> {
        let outboxes = self.outboxes.get().ok_or(SendError::Unsupported("no adapter is running yet"))?;
        outboxes.send_now(reply).await
    }

    /// Sends `text` to `chat` for `user` (privately when the chat is theirs alone), audited as `event`.
    async fn text(
        &self,
        plugin: &str,
        user: &UserRef,
        chat: ChatRef,
        text: String,
        event: &str,
    ) -> Result<Sent, SendError> {
        let body = ReplyBody::Text { text, buttons: Vec::new() };
        let reply = Reply { chat: chat.clone(), user: user.clone(), private: chat.is_private(), body, retract: None };
        let message = self.now(reply).await?.ok_or(SendError::Unsupported("a platform that returns no message id"))?;
        self.audit(event, user, plugin).await;
        Ok(Sent { plugin: plugin.to_string(), user: user.clone(), chat, message })
    }

    async fn audit(&self, event: &str, user: &UserRef, plugin: &str) {
        if let Some(audit) = self.audit.get()
            && let Err(error) = audit.record(event, Some(user), Outcome::Info, &[("plugin", plugin.to_string())]).await
        {
            tracing::error!(event, %error, "could not write an audit entry");
        }
    }
}

#[async_trait::async_trait]
impl Messenger for RuntimeMessenger {
    async fn send(&self, plugin: &str, user: &UserRef, text: String) -> Result<Sent, SendError> {
        self.text(plugin, user, ChatRef::direct_with(user), text, "message.sent").await
    }

    async fn post(&self, plugin: &str, for_user: &UserRef, chat: &ChatRef, text: String) -> Result<Sent, SendError> {
        let known = self.chats.knows(chat).await.map_err(|e| SendError::Unreachable(e.to_string()))?;
        if !known {
            return Err(SendError::Rejected(format!(
                "plugin `{plugin}` may only post in a group chat the bot has been written to in"
            )));
        }
        self.text(plugin, for_user, chat.clone(), text, "message.posted").await
    }

    async fn edit(&self, sent: &Sent, text: String) -> Result<(), SendError> {
        let body = ReplyBody::Edit { message: sent.message.clone(), text };
        let private = sent.chat.is_private();
        let reply = Reply { chat: sent.chat.clone(), user: sent.user.clone(), private, body, retract: None };
        self.now(reply).await?;
        self.audit("message.edited", &sent.user, &sent.plugin).await;
        Ok(())
    }

    async fn fetch(
        &self,
        platform: crate::event::Platform,
        file: &crate::event::FileInfo,
    ) -> Result<Vec<u8>, SendError> {
        let outboxes = self.outboxes.get().ok_or(SendError::Unsupported("no adapter is running yet"))?;
        outboxes.fetch(platform, file, self.max_file_bytes.load(std::sync::atomic::Ordering::Relaxed)).await
    }

    async fn delete(&self, sent: &Sent) -> Result<(), SendError> {
        let body = ReplyBody::Delete(sent.message.clone());
        let reply = Reply { chat: sent.chat.clone(), user: sent.user.clone(), private: false, body, retract: None };
        self.now(reply).await?;
        self.audit("message.deleted", &sent.user, &sent.plugin).await;
        Ok(())
    }
}
