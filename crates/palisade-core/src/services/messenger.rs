//! Messages that are not replies: a plugin writes to someone first (a reminder for another person, a
//! notice to staff) or posts in a group chat (a daily summary), and edits or deletes what it sent. Handlers
//! reach it through [`crate::Ctx::send_to`], [`crate::Ctx::post_to`], [`crate::Ctx::edit_sent`] and
//! [`crate::Ctx::delete_sent`].

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::adapter::SendError;
use crate::event::{ChatRef, MessageId, UserRef};

/// A message a plugin sent, as a handle to edit or delete it later (it may be stored in the plugin's data).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    /// The plugin that sent it (only it may edit or delete it).
    pub plugin: String,
    /// Whom it went to — for a post in a group chat, the person whose event or job the plugin was handling.
    pub user: UserRef,
    /// Where it landed.
    pub chat: ChatRef,
    /// The platform's id of the message.
    pub message: MessageId,
}

/// Sends, edits and deletes messages outside replies: through the same send pacing as replies, privately
/// (the user's direct chat), audited.
#[async_trait]
pub trait Messenger: Send + Sync + 'static {
    /// Sends `text` privately to `user` for `plugin`, waiting until it is delivered.
    async fn send(&self, plugin: &str, user: &UserRef, text: String) -> Result<Sent, SendError>;

    /// Posts `text` in group chat `chat` for `plugin`, on behalf of `for_user` (whose event or job the plugin
    /// is handling), waiting until it is delivered. Refused for chats the bot was never written to in.
    async fn post(&self, plugin: &str, for_user: &UserRef, chat: &ChatRef, text: String) -> Result<Sent, SendError> {
        let _ = (plugin, for_user, chat, text);
        Err(SendError::Unsupported("posting in chats"))
    }

    /// Replaces the text of `sent`.
    async fn edit(&self, sent: &Sent, text: String) -> Result<(), SendError>;

    /// Deletes `sent`.
    async fn delete(&self, sent: &Sent) -> Result<(), SendError>;

    /// The bytes of a file a user sent on `platform`, within the runtime's size cap.
    async fn fetch(
        &self,
        platform: crate::event::Platform,
        file: &crate::event::FileInfo,
    ) -> Result<Vec<u8>, SendError> {
        let _ = (platform, file);
        Err(SendError::Unsupported("fetching files"))
    }
}
