//! Delivering replies to Telegram: text with an inline keyboard, photos, documents, deletions, and private
//! replies moved from a group to the user's private chat.

use std::sync::Arc;

use palisade_core::{Button, ChatKind, MessageId, Outbox, Reply, ReplyBody, SendError};
use teloxide::RequestError;
use teloxide::payloads::{SendDocumentSetters, SendMessage, SendPhotoSetters};
use teloxide::prelude::Requester;
use teloxide::requests::{JsonRequest, Request};
use teloxide::types::{ChatId, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, ReplyMarkup, ThreadId};

use crate::api::Api;
use crate::sent::IdOnly;

/// Buttons per keyboard row.
const ROW: usize = 3;

/// The Telegram outbox.
#[derive(Debug, Clone)]
pub struct TelegramOutbox {
    api: Arc<Api>,
}

impl TelegramOutbox {
    /// An outbox over `api`.
    pub fn new(api: Arc<Api>) -> Self {
        Self { api }
    }

    /// Where a reply goes: private replies from a group go to the user's private chat, whose id on Telegram
    /// is the user's id.
    fn target(reply: &Reply) -> Result<ChatId, SendError> {
        let private = reply.private || matches!(reply.body, ReplyBody::CodePrompt { .. });
        let id = if private && reply.chat.kind != ChatKind::Direct { &reply.user.id } else { &reply.chat.id };
        id.parse().map(ChatId).map_err(|_| SendError::Rejected("not a Telegram chat id".into()))
    }

    /// The forum topic a reply goes back into: the one its event came from, when it stays in that chat.
    fn topic(reply: &Reply, target: ChatId) -> Option<ThreadId> {
        let thread = reply.chat.thread.as_deref()?;
        let same_chat = reply.chat.id.parse::<i64>().is_ok_and(|id| id == target.0);
        same_chat.then(|| thread.parse().ok().map(|id| ThreadId(teloxide::types::MessageId(id)))).flatten()
    }

    async fn keyboard(&self, chat: ChatId, buttons: &[Button]) -> Result<InlineKeyboardMarkup, SendError> {
        let mut rows = Vec::new();
        for row in buttons.chunks(ROW) {
            let mut keys = Vec::new();
            for b in row {
                let id = self
                    .api
                    .buttons()
                    .register(chat.0, &b.data)
                    .await
                    .map_err(|e| SendError::Rejected(e.to_string()))?;
                keys.push(InlineKeyboardButton::callback(b.label.clone(), id));
            }
            rows.push(keys);
        }
        Ok(InlineKeyboardMarkup::new(rows))
    }

    async fn send_text(
        &self,
        chat: ChatId,
        text: &str,
        keyboard: Option<InlineKeyboardMarkup>,
    ) -> Result<MessageId, RequestError> {
        self.send_text_in(chat, None, text, keyboard).await
    }

    /// Sends `text` into `chat`, in forum topic `topic` when given.
    async fn send_text_in(
        &self,
        chat: ChatId,
        topic: Option<ThreadId>,
        text: &str,
        keyboard: Option<InlineKeyboardMarkup>,
    ) -> Result<MessageId, RequestError> {
        let mut payload = SendMessage::new(chat, text);
        payload.message_thread_id = topic;
        payload.reply_markup = keyboard.map(ReplyMarkup::InlineKeyboard);
        let bot = self.api.bot();
        let sent =
            self.api.call("sendMessage", || JsonRequest::new(bot.clone(), IdOnly::new(payload.clone())).send()).await?;
        Ok(MessageId(sent.message_id.to_string()))
    }

    async fn send_photo(&self, chat: ChatId, png: &[u8], caption: Option<&str>) -> Result<MessageId, RequestError> {
        let sender = self.api.bot();
        let msg = self
            .api
            .call("sendPhoto", || {
                let req = sender.send_photo(chat, InputFile::memory(png.to_vec()).file_name("image.png"));
                match caption {
                    Some(c) => req.caption(c).send(),
                    None => req.send(),
                }
            })
            .await?;
        Ok(MessageId(msg.id.0.to_string()))
    }

    async fn send_file(
        &self,
        chat: ChatId,
        name: &str,
        bytes: &[u8],
        caption: Option<&str>,
    ) -> Result<MessageId, RequestError> {
        let sender = self.api.bot();
        let msg = self
            .api
            .call("sendDocument", || {
                let req = sender.send_document(chat, InputFile::memory(bytes.to_vec()).file_name(name.to_string()));
                match caption {
                    Some(c) => req.caption(c).send(),
                    None => req.send(),
                }
            })
            .await?;
        Ok(MessageId(msg.id.0.to_string()))
    }

    /// Deletes a message: `CHAT:MESSAGE` (one the bot sent, wherever it landed) or a bare message id in the
    /// reply's chat (a user's message).
    /// The chat and message an id names: `chat:message` as sends return it, or a bare message id in the
    /// reply's chat (a user's message).
    fn locate(reply: &Reply, id: &MessageId) -> Result<(ChatId, teloxide::types::MessageId), SendError> {
        let (chat, msg) = id.0.rsplit_once(':').unwrap_or((&reply.chat.id, &id.0));
        let chat = chat.parse().map(ChatId).map_err(|_| SendError::Rejected("not a Telegram chat id".into()))?;
        let msg =
            msg.parse().map(teloxide::types::MessageId).map_err(|_| SendError::Rejected("not a message id".into()))?;
        Ok((chat, msg))
    }

    async fn delete(&self, reply: &Reply, id: &MessageId) -> Result<(), SendError> {
        let (chat, msg) = Self::locate(reply, id)?;
        let bot = self.api.bot();
        match self.api.call("deleteMessage", || bot.delete_message(chat, msg).send()).await {
            Ok(_) => Ok(()),
            Err(e) => Err(SendError::Rejected(format!(
                "could not delete the message ({}); in groups the bot needs the admin right to delete messages",
                self.api.describe(&e)
            ))),
        }
    }

    async fn edit(&self, reply: &Reply, id: &MessageId, text: &str) -> Result<(), SendError> {
        let (chat, msg) = Self::locate(reply, id)?;
        let bot = self.api.bot();
        match self.api.call("editMessageText", || bot.edit_message_text(chat, msg, text).send()).await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.failure(&e)),
        }
    }

    /// A caption too long to go with its image or file follows it as text (split like any message).
    async fn caption_after(&self, chat: ChatId, sent: &Result<MessageId, RequestError>, caption: Option<&str>) {
        let (Ok(_), Some(caption)) = (sent, caption) else { return };
        for part in palisade_core::reply::split_text(caption, MAX_TEXT) {
            if let Err(e) = self.send_text(chat, &part, None).await {
                tracing::warn!(error = %self.api.describe(&e), "could not send a long caption after its file");
                return;
            }
        }
    }

    /// Tells a group member, without revealing anything, that their private message could not be delivered.
    async fn explain_blocked_dm(&self, reply: &Reply) {
        let Ok(group) = reply.chat.id.parse().map(ChatId) else { return };
        let me = self.api.username().map(|u| format!(" with @{u}")).unwrap_or_default();
        let text =
            format!("I could not write to you privately. Open a private chat{me}, press Start, then try again here.");
        if let Err(e) = self.send_text(group, &text, None).await {
            tracing::warn!(error = %self.api.describe(&e), "could not explain a blocked private message");
        }
    }

    fn failure(&self, error: &RequestError) -> SendError {
        match error {
            RequestError::Network(_) => SendError::Unreachable(self.api.describe(error)),
            _ => SendError::Rejected(self.api.describe(error)),
        }
    }
}

/// True when Telegram refused a private message because the user never started the bot, blocked it, or is
/// gone. Telegram answers these with 403 "Forbidden: …", which teloxide knows only in some spellings.
fn dm_refused(error: &RequestError) -> bool {
    use teloxide::ApiError::{BotBlocked, CantInitiateConversation, UserDeactivated};
    let RequestError::Api(api) = error else { return false };
    let text = api.to_string();
    matches!(api, BotBlocked | CantInitiateConversation | UserDeactivated)
        || ["initiate conversation", "blocked by the user", "user is deactivated"].iter().any(|s| text.contains(s))
}

/// The longest caption Telegram takes with a photo or document, in characters.
const MAX_CAPTION: usize = 1024;
/// The longest text message.
const MAX_TEXT: usize = 4096;

/// A caption as it can go with its media: short enough to travel with it, or (too long) sent after it. A
/// message that will be taken back keeps its caption with it (a follow-up could not be taken back with it).
fn caption_parts(caption: Option<&str>, retracted: bool) -> (Option<&str>, Option<&str>) {
    match caption {
        Some(c) if c.chars().count() > MAX_CAPTION && !retracted => (None, Some(c)),
        other => (other, None),
    }
}

#[palisade_core::async_trait]
impl Outbox for TelegramOutbox {
    async fn deliver(&self, reply: &Reply) -> Result<Option<MessageId>, SendError> {
        let chat = Self::target(reply)?;
        let sent = match &reply.body {
            ReplyBody::Text { text, buttons } => {
                let keyboard = if buttons.is_empty() { None } else { Some(self.keyboard(chat, buttons).await?) };
                self.send_text_in(chat, Self::topic(reply, chat), text, keyboard).await
            }
            ReplyBody::CodePrompt { text } => self.send_text(chat, text, None).await,
            ReplyBody::Image { png, caption } => {
                let (short, long) = caption_parts(caption.as_deref(), reply.retract.is_some());
                let sent = self.send_photo(chat, png, short).await;
                self.caption_after(chat, &sent, long).await;
                sent
            }
            ReplyBody::File { name, bytes, caption } => {
                let (short, long) = caption_parts(caption.as_deref(), reply.retract.is_some());
                let sent = self.send_file(chat, name, bytes, short).await;
                self.caption_after(chat, &sent, long).await;
                sent
            }
            ReplyBody::Delete(id) => return self.delete(reply, id).await.map(|()| None),
            ReplyBody::Edit { message, text } => {
                return self.edit(reply, message, text).await.map(|()| Some(message.clone()));
            }
            _ => return Err(SendError::Unsupported("this kind of reply on Telegram")),
        };
        match sent {
            // The chat travels with the message id: a private reply lands in the user's private chat, and
            // deleting it later needs both.
            Ok(id) => Ok(Some(MessageId(format!("{}:{}", chat.0, id.0)))),
            Err(e) => {
                if reply.private && reply.chat.kind != ChatKind::Direct && dm_refused(&e) {
                    self.explain_blocked_dm(reply).await;
                }
                Err(self.failure(&e))
            }
        }
    }

    async fn fetch(&self, file: &palisade_core::FileInfo, max_bytes: u64) -> Result<Vec<u8>, SendError> {
        use futures::StreamExt;
        use teloxide::net::Download;
        let bot = self.api.bot();
        let id = teloxide::types::FileId(file.id.clone());
        let found = self.api.call("getFile", || bot.get_file(id.clone()).send()).await.map_err(|e| self.failure(&e))?;
        if u64::from(found.meta.size) > max_bytes {
            return Err(SendError::Rejected("the file is larger than this bot accepts".into()));
        }
        // Streamed and cut off at the cap, whatever size Telegram announced.
        let mut stream = bot.download_file_stream(&found.path);
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| SendError::Unreachable("the file download broke off".into()))?;
            if (bytes.len() + chunk.len()) as u64 > max_bytes {
                return Err(SendError::Rejected("the file is larger than this bot accepts".into()));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}
