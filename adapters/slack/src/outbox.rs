//! Delivering replies through the Web API.
//!
//! - Text goes out with `chat.postMessage`; a *private* reply in a shared channel with `chat.postEphemeral`
//!   (only that user sees it). Where the bot is not a member of the channel, the interaction's
//!   `response_url` is used instead (ephemeral too).
//! - Buttons become Block Kit buttons whose values are opaque ids bound to the channel they are sent to.
//! - A code prompt becomes the verification modal when a fresh `trigger_id` from the user's last
//!   interaction allows `views.open`; otherwise it is sent to the user's direct chat (`conversations.open`),
//!   where the code may be typed (with an ephemeral pointer to it in the channel).
//! - Images and files are uploaded; private ones, like the enrolment QR code or a data export, only into the
//!   user's direct chat.

use std::sync::Arc;

use palisade_core::{ChatKind, ChatRef, MessageId, Outbox, Platform, Reply, ReplyBody, SendError, UserRef};
use slack_morphism::api::SlackApiPostWebhookMessageRequest;
use slack_morphism::api::{
    SlackApiChatDeleteRequest, SlackApiChatPostEphemeralRequest, SlackApiChatPostMessageRequest,
    SlackApiChatUpdateRequest, SlackApiFilesDeleteRequest, SlackApiViewsOpenRequest,
};
use slack_morphism::errors::SlackClientError;
use slack_morphism::{SlackMessageContent, SlackResponseUrl};

use crate::api::{describe, error_code, send_error};
use crate::shared::Shared;
use crate::upload::{self, Upload};
use crate::{blocks, identity, modal};

/// Said (ephemerally) in a channel when a code prompt had to go to the direct chat instead of a modal.
pub const DM_POINTER: &str = "I sent you a direct message to confirm this.";

/// Slack errors meaning "the bot cannot post there", for which a response URL may still work.
const NOT_THERE: [&str; 3] = ["not_in_channel", "channel_not_found", "user_not_in_channel"];

/// The Slack outbox.
#[derive(Debug)]
pub struct SlackOutbox {
    shared: Arc<Shared>,
}

impl SlackOutbox {
    /// An outbox over the adapter's shared state.
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// The message content for `text` and `buttons`, the buttons registered for `dest`.
    async fn content(
        &self,
        dest: &ChatRef,
        text: &str,
        buttons: &[palisade_core::Button],
    ) -> Result<SlackMessageContent, SendError> {
        let mut ids = Vec::with_capacity(buttons.len());
        for b in buttons {
            let id =
                self.shared.buttons.register(dest, &b.data).await.map_err(|e| SendError::Rejected(e.to_string()))?;
            ids.push((b.label.clone(), id));
        }
        Ok(blocks::message(text, &ids))
    }

    async fn text(
        &self,
        reply: &Reply,
        text: &str,
        buttons: &[palisade_core::Button],
    ) -> Result<Option<MessageId>, SendError> {
        let content = self.content(&reply.chat, text, buttons).await?;
        let sent = if reply.private && reply.chat.kind != ChatKind::Direct {
            self.ephemeral(&reply.chat, &reply.user, content.clone()).await
        } else {
            self.post(&reply.chat.id, reply.chat.thread.as_deref(), content.clone()).await
        };
        match sent {
            Err(e) if error_code(&e).is_some_and(|c| NOT_THERE.contains(&c)) => {
                self.respond(reply, content).await.ok_or_else(|| send_error(&e))?
            }
            other => other.map_err(|e| send_error(&e)),
        }
    }

    /// Posts `content` in `channel`, inside `thread` (the thread's first timestamp) when given.
    async fn post(
        &self,
        channel: &str,
        thread: Option<&str>,
        content: SlackMessageContent,
    ) -> Result<Option<MessageId>, SlackClientError> {
        let api = &self.shared.api;
        let mut req = SlackApiChatPostMessageRequest::new(channel.to_string().into(), content);
        req.thread_ts = thread.map(|t| t.to_string().into());
        let sent = api.call("chat.postMessage", || async { api.session().chat_post_message(&req).await }).await?;
        // The channel travels with the timestamp: a private reply may land in a direct chat the reply did not
        // name, and deleting it later needs both.
        Ok(Some(MessageId(format!("{channel}:{}", sent.ts))))
    }

    async fn ephemeral(
        &self,
        chat: &ChatRef,
        user: &UserRef,
        content: SlackMessageContent,
    ) -> Result<Option<MessageId>, SlackClientError> {
        let api = &self.shared.api;
        let slack_user = identity::slack_user_id(user).unwrap_or_default().to_string();
        let mut req = SlackApiChatPostEphemeralRequest::new(chat.id.clone().into(), slack_user.into(), content);
        req.thread_ts = chat.thread.clone().map(Into::into);
        api.call("chat.postEphemeral", || async { api.session().chat_post_ephemeral(&req).await }).await?;
        Ok(None)
    }

    /// Posts through the response URL of the user's last interaction in this chat, if there is one.
    async fn respond(
        &self,
        reply: &Reply,
        content: SlackMessageContent,
    ) -> Option<Result<Option<MessageId>, SendError>> {
        let url = self.shared.recent.use_response_url(&reply.user, &reply.chat.id)?;
        let url = SlackResponseUrl::new(url.parse().ok()?);
        let api = &self.shared.api;
        let req = SlackApiPostWebhookMessageRequest::new(content);
        let sent = api.call("response_url", || async { api.client().respond_to_event(&url, &req).await }).await;
        Some(sent.map(|_| None).map_err(|e| send_error(&e)))
    }

    /// The user's direct chat with the bot: the reply's own chat if it is one, else opened.
    async fn direct_chat(&self, reply: &Reply) -> Result<ChatRef, SendError> {
        if reply.chat.kind == ChatKind::Direct && !reply.chat.is_direct_with(&reply.user) {
            return Ok(reply.chat.clone());
        }
        let user = identity::slack_user_id(&reply.user).ok_or(SendError::Unsupported("a user without a Slack id"))?;
        let dm = self.shared.api.dm(user).await?;
        Ok(ChatRef::new(Platform::SLACK, dm, ChatKind::Direct))
    }

    /// The verification modal if a fresh trigger allows it, else the prompt in the user's direct chat.
    async fn code_prompt(&self, reply: &Reply, text: &str) -> Result<Option<MessageId>, SendError> {
        if let Some(trigger) = self.shared.recent.take_trigger(&reply.user) {
            let ticket =
                self.shared.tickets.issue(&reply.user, &reply.chat).map_err(|e| SendError::Rejected(e.to_string()))?;
            let api = &self.shared.api;
            let req = SlackApiViewsOpenRequest::new(trigger.into(), modal::view(text, &ticket));
            match api.call("views.open", || async { api.session().views_open(&req).await }).await {
                Ok(_) => return Ok(None),
                Err(e) => tracing::warn!(error = %describe(&e), "no verification modal; asking in the direct chat"),
            }
        }
        let dm = self.direct_chat(reply).await?;
        let content = self.content(&dm, text, &[]).await?;
        let sent = self.post(&dm.id, None, content).await.map_err(|e| send_error(&e))?;
        if reply.chat.kind != ChatKind::Direct {
            // The core leaves this pointer to adapters with private input, since a modal needs none.
            let pointer = blocks::message(DM_POINTER, &[]);
            if let Err(e) = self.ephemeral(&reply.chat, &reply.user, pointer).await {
                tracing::debug!(error = %describe(&e), "could not point to the direct chat");
            }
        }
        Ok(sent)
    }

    async fn upload(&self, reply: &Reply, file: Upload<'_>) -> Result<Option<MessageId>, SendError> {
        if reply.private && !reply.chat.is_private() {
            let dm = self.direct_chat(reply).await?;
            return upload::file(&self.shared.api, &dm.id, None, file).await;
        }
        upload::file(&self.shared.api, &reply.chat.id, reply.chat.thread.as_deref(), file).await
    }

    /// Deletes one of the bot's messages (`CHANNEL:TS`, or a bare timestamp in the reply's channel) or files
    /// (`file:ID`). Only the bot's own messages can be deleted with a bot token (see
    /// `can_delete_user_messages`).
    async fn delete(&self, reply: &Reply, id: &MessageId) -> Result<Option<MessageId>, SendError> {
        let api = &self.shared.api;
        if let Some(file) = id.0.strip_prefix("file:") {
            let req = SlackApiFilesDeleteRequest::new(file.to_string().into());
            api.call("files.delete", || async { api.session().files_delete(&req).await })
                .await
                .map_err(|e| send_error(&e))?;
            return Ok(None);
        }
        let (channel, ts) = id.0.split_once(':').unwrap_or((&reply.chat.id, &id.0));
        let req = SlackApiChatDeleteRequest::new(channel.to_string().into(), ts.to_string().into());
        api.call("chat.delete", || async { api.session().chat_delete(&req).await })
            .await
            .map_err(|e| send_error(&e))?;
        Ok(None)
    }
}

impl SlackOutbox {
    async fn edit(&self, reply: &Reply, id: &MessageId, text: &str) -> Result<Option<MessageId>, SendError> {
        let api = &self.shared.api;
        let (channel, ts) = id.0.split_once(':').unwrap_or((&reply.chat.id, &id.0));
        let content = SlackMessageContent::new().with_text(text.to_string());
        let req = SlackApiChatUpdateRequest::new(channel.to_string().into(), content, ts.to_string().into());
        api.call("chat.update", || async { api.session().chat_update(&req).await })
            .await
            .map_err(|e| send_error(&e))?;
        Ok(Some(id.clone()))
    }
}

#[palisade_core::async_trait]
impl Outbox for SlackOutbox {
    async fn deliver(&self, reply: &Reply) -> Result<Option<MessageId>, SendError> {
        if reply.chat.is_direct_with(&reply.user) {
            // "The user's DM with the bot" (an alert to an admin): find out which channel that is first.
            let user =
                identity::slack_user_id(&reply.user).ok_or(SendError::Unsupported("a user without a Slack id"))?;
            let dm = self.shared.api.dm(user).await?;
            let resolved = Reply { chat: ChatRef::new(Platform::SLACK, dm, ChatKind::Direct), ..reply.clone() };
            return Box::pin(self.deliver(&resolved)).await;
        }
        match &reply.body {
            ReplyBody::Text { text, buttons } => self.text(reply, text, buttons).await,
            ReplyBody::Image { png, caption } => {
                let caption = caption.as_deref();
                self.upload(reply, Upload { name: "image.png", bytes: png, content_type: "image/png", caption }).await
            }
            ReplyBody::File { name, bytes, caption } => {
                let (caption, content_type) = (caption.as_deref(), "application/octet-stream");
                self.upload(reply, Upload { name, bytes, content_type, caption }).await
            }
            ReplyBody::Delete(id) => self.delete(reply, id).await,
            ReplyBody::Edit { message, text } => self.edit(reply, message, text).await,
            ReplyBody::CodePrompt { text } => self.code_prompt(reply, text).await,
            _ => Err(SendError::Unsupported("this kind of reply on Slack")),
        }
    }

    async fn fetch(&self, file: &palisade_core::FileInfo, max_bytes: u64) -> Result<Vec<u8>, SendError> {
        // The announced size was checked by the runtime; the download is cut off at the cap whatever it says.
        self.shared.api.fetch_file(&file.id, max_bytes).await
    }
}
