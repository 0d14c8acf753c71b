//! Delivering replies: as the answer to the conversation's live interaction (first answer, edit of a
//! deferred answer, or follow-up — ephemeral when private), or, with no live interaction, as a channel
//! message, private ones in the user's DM channel.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use palisade_core::{ChatKind, MessageId, Outbox, Reply, SendError};
use serenity::builder::{Builder, CreateInteractionResponse, CreateInteractionResponseMessage};
use serenity::model::id::{ChannelId, UserId};

use crate::components::Components;
use crate::download::Downloader;
use crate::exchange::{Exchange, Exchanges, State};
use crate::message::{Outgoing, Shape};
use crate::rest::Rest;

/// DM channel ids remembered at most.
const MAX_DM_CHANNELS: usize = 10_000;

/// The Discord outbox.
#[derive(Debug)]
pub struct DiscordOutbox {
    rest: Arc<Rest>,
    exchanges: Arc<Exchanges>,
    components: Arc<Components>,
    /// DM channel of each user written to privately (std Mutex: short map operations only).
    dms: Mutex<HashMap<String, ChannelId>>,
    /// Attachment downloads.
    files: Downloader,
}

/// What to do after looking at an interaction's state.
enum Next {
    /// The reply went out as the first answer.
    Answered,
    /// Replace the deferred original response.
    EditOriginal,
    /// Delete the deferred original (its visibility was wrong for this reply), then follow up.
    ReplaceOriginal,
    /// Send a follow-up.
    FollowUp,
    /// The interaction cannot be answered any more: send a plain message.
    Plain,
}

fn id(text: &str) -> Result<u64, SendError> {
    text.parse().map_err(|_| SendError::Rejected("not a Discord id".into()))
}

impl DiscordOutbox {
    /// An outbox over `rest`, answering the interactions in `exchanges`, with button ids in `components`,
    /// fetching attachments with `files`.
    pub fn new(rest: Arc<Rest>, exchanges: Arc<Exchanges>, components: Arc<Components>, files: Downloader) -> Self {
        Self { rest, exchanges, components, dms: Mutex::new(HashMap::new()), files }
    }

    /// Decides how `out` (or the modal) answers `ex`, giving the first answer if that is still open.
    fn next(ex: &Exchange, out: &Outgoing, modal: Option<&serenity::builder::CreateModal>) -> Next {
        ex.with_state(|state| match state {
            State::Waiting(_) => {
                let answer = match modal {
                    Some(m) if ex.can_open_modal => CreateInteractionResponse::Modal(m.clone()),
                    _ if out.file.is_none() => CreateInteractionResponse::Message(out.initial()),
                    // Files cannot be part of an HTTP answer: defer, then edit the original with the file.
                    _ => CreateInteractionResponse::Defer(
                        CreateInteractionResponseMessage::new().ephemeral(out.ephemeral),
                    ),
                };
                let deferred = matches!(answer, CreateInteractionResponse::Defer(_));
                let State::Waiting(tx) = std::mem::replace(state, State::Answered) else { return Next::Plain };
                if tx.send(answer).is_err() {
                    return Next::Plain;
                }
                if deferred {
                    *state = State::Deferred { ephemeral: out.ephemeral };
                    return Next::EditOriginal;
                }
                Next::Answered
            }
            State::Deferred { ephemeral } => {
                // Ephemerality is kept even in a DM: a private reply never relies on the chat being direct,
                // and a second factor must not become a message that stays.
                let same = *ephemeral == out.ephemeral;
                *state = State::Answered;
                if same { Next::EditOriginal } else { Next::ReplaceOriginal }
            }
            State::Answered => Next::FollowUp,
        })
    }

    async fn answer(
        &self,
        ex: &Exchange,
        reply: &Reply,
        out: &Outgoing,
        modal: Option<&serenity::builder::CreateModal>,
    ) -> Result<Option<MessageId>, SendError> {
        let http = self.rest.http().as_ref();
        let token = ex.token.expose();
        let young = ex.young();
        let sent = match Self::next(ex, out, modal) {
            Next::Answered => return Ok(None),
            Next::EditOriginal => self.rest.call("edit response", young, || out.edit().execute(http, token)).await,
            Next::ReplaceOriginal => {
                self.delete_original(ex).await;
                self.follow_up(ex, out).await
            }
            Next::FollowUp => self.follow_up(ex, out).await,
            Next::Plain => return self.plain(reply, out).await,
        };
        let message = sent.map_err(|e| e.into_send_error())?;
        // An ephemeral answer leaves nothing to delete later (it is gone when the user leaves); any other
        // is a message in the interaction's channel.
        Ok((!out.ephemeral).then(|| MessageId(format!("{}:{}", reply.chat.id, message.id))))
    }

    async fn follow_up(
        &self,
        ex: &Exchange,
        out: &Outgoing,
    ) -> Result<serenity::model::channel::Message, crate::rest::RestError> {
        let http = self.rest.http().as_ref();
        let token = ex.token.expose();
        self.rest.call("follow-up", ex.young(), || out.followup().execute(http, (None, token))).await
    }

    /// Deletes a deferred "thinking…" original response; a failure only leaves that placeholder behind.
    pub async fn delete_original(&self, ex: &Exchange) {
        let http = self.rest.http();
        let token = ex.token.expose();
        let deleted =
            self.rest.call("delete response", ex.young(), || http.delete_original_interaction_response(token)).await;
        if let Err(error) = deleted {
            tracing::warn!(%error, "could not remove a deferred interaction response");
        }
    }

    /// Ends an interaction whose event was handled: a deferred original nobody replaced is removed.
    pub async fn close(&self, ex: &Exchange) {
        let open = ex.with_state(|state| {
            let open = matches!(state, State::Deferred { .. });
            if open {
                *state = State::Answered;
            }
            open
        });
        if open {
            self.delete_original(ex).await;
        }
    }

    /// Sends without an interaction: to the chat, or to the user's DM channel when private in a group.
    async fn plain(&self, reply: &Reply, out: &Outgoing) -> Result<Option<MessageId>, SendError> {
        let to_user = reply.chat.is_direct_with(&reply.user);
        let channel = if to_user || (reply.private && reply.chat.kind != ChatKind::Direct) {
            self.dm_channel(&reply.user.id).await?
        } else {
            ChannelId::new(id(&reply.chat.id)?)
        };
        let http = self.rest.http().as_ref();
        let msg = self.rest.call("send message", false, || out.channel_message().execute(http, (channel, None))).await;
        // The channel travels with the message id: a private reply lands in a DM the reply did not name, and
        // deleting it later needs both.
        msg.map(|m| Some(MessageId(format!("{channel}:{}", m.id)))).map_err(|e| e.into_send_error())
    }

    /// Deletes one of the bot's channel messages (`CHANNEL:MESSAGE`). Interactions carry no user messages to
    /// delete, and ephemeral answers cannot be deleted later (they vanish for the user on their own).
    async fn delete(&self, sent: &MessageId) -> Result<Option<MessageId>, SendError> {
        let (channel, message) = channel_message(sent, "deleting a user's message (interactions have none)")?;
        let http = self.rest.http().as_ref();
        self.rest
            .call("delete message", false, || http.delete_message(channel, message, None))
            .await
            .map_err(|e| e.into_send_error())?;
        Ok(None)
    }

    async fn edit(&self, sent: &MessageId, text: &str) -> Result<Option<MessageId>, SendError> {
        let (channel, message) = channel_message(sent, "editing an interaction's answer")?;
        let http = self.rest.http().as_ref();
        let body = serde_json::json!({ "content": text });
        self.rest
            .call("edit message", false, || http.edit_message(channel, message, &body, Vec::new()))
            .await
            .map_err(|e| e.into_send_error())?;
        Ok(Some(sent.clone()))
    }

    async fn dm_channel(&self, user: &str) -> Result<ChannelId, SendError> {
        if let Some(c) = self.dms.lock().unwrap_or_else(PoisonError::into_inner).get(user) {
            return Ok(*c);
        }
        let http = self.rest.http().as_ref();
        let uid = UserId::new(id(user)?);
        let channel = self.rest.call("open DM", false, || uid.create_dm_channel(http)).await.map_err(|e| {
            SendError::Rejected(format!(
                "could not open a direct message ({e}); the user may not share a server with the bot or may block DMs"
            ))
        })?;
        let mut dms = self.dms.lock().unwrap_or_else(PoisonError::into_inner);
        if dms.len() >= MAX_DM_CHANNELS {
            dms.clear(); // a cache only: ids are asked for again when needed
        }
        dms.insert(user.to_string(), channel.id);
        Ok(channel.id)
    }
}

/// The channel and message a `CHANNEL:MESSAGE` id names; other ids (none the bot sent as a channel message)
/// cannot be `what`.
fn channel_message(
    sent: &MessageId,
    what: &'static str,
) -> Result<(ChannelId, serenity::model::id::MessageId), SendError> {
    let Some((channel, message)) = sent.0.split_once(':') else { return Err(SendError::Unsupported(what)) };
    Ok((ChannelId::new(id(channel)?), serenity::model::id::MessageId::new(id(message)?)))
}

#[palisade_core::async_trait]
impl Outbox for DiscordOutbox {
    async fn deliver(&self, reply: &Reply) -> Result<Option<MessageId>, SendError> {
        let (out, modal) = match crate::message::shape(reply, &self.components).await? {
            Shape::Message(out) => (out, None),
            Shape::Modal { modal, fallback } => (fallback, Some(modal)),
            Shape::Nothing => {
                return match &reply.body {
                    palisade_core::ReplyBody::Delete(id) => self.delete(id).await,
                    palisade_core::ReplyBody::Edit { message, text } => self.edit(message, text).await,
                    _ => Err(SendError::Unsupported("nothing to send")),
                };
            }
        };
        match self.exchanges.current(&reply.user.id, &reply.chat.id) {
            Some(ex) => self.answer(&ex, reply, &out, modal.as_ref()).await,
            None => self.plain(reply, &out).await,
        }
    }

    async fn fetch(&self, file: &palisade_core::FileInfo, max_bytes: u64) -> Result<Vec<u8>, SendError> {
        // The announced size was checked by the runtime; the download is cut off at the cap whatever it says.
        self.files.get(&file.id, max_bytes).await
    }
}
