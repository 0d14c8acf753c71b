//! Delivery of replies to the adapter of each reply's platform, split to fit its message limit.

use std::collections::HashMap;
use std::sync::Arc;

use crate::adapter::{Capabilities, Outbox, SendError};
use crate::event::{Platform, UserRef};
use crate::reply::{Reply, ReplyBody};
use crate::retractions::{Retractions, Sent};

/// What a user reads when a message that must not stay could not be deleted on their platform.
pub const DELETE_IT_YOURSELF: &str = "I could not delete a message I sent you earlier that carried sensitive content (your two-factor key or recovery codes, or a copy of your data). Please delete it yourself.";

/// The outbox and capabilities of every running adapter.
#[derive(Clone, Default)]
pub struct Outboxes {
    map: HashMap<Platform, (Arc<dyn Outbox>, Capabilities)>,
    retractions: Option<Retractions>,
}

impl std::fmt::Debug for Outboxes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outboxes").field("platforms", &self.map.keys().collect::<Vec<_>>()).finish()
    }
}

impl Outboxes {
    /// Adds (or replaces) the outbox for `platform`.
    pub fn insert(&mut self, platform: Platform, outbox: Arc<dyn Outbox>, caps: Capabilities) {
        self.map.insert(platform, (outbox, caps));
    }

    /// The capabilities of `platform`, or the console's when no adapter is registered for it.
    pub fn capabilities(&self, platform: Platform) -> Capabilities {
        self.map.get(&platform).map_or(Capabilities::CONSOLE, |(_, c)| *c)
    }

    /// Remembers where retractable messages land in `retractions`, so they can be deleted later.
    pub fn remember_retractable(&mut self, retractions: Retractions) {
        self.retractions = Some(retractions);
    }

    /// Delivers `replies` in order. A failed delivery is logged (never with content) and the rest go on.
    pub async fn deliver(&self, replies: Vec<Reply>) {
        for reply in replies {
            if let ReplyBody::Retract { tag } = &reply.body {
                self.retract(&reply.user, tag).await;
                continue;
            }
            let platform = reply.chat.platform;
            let Some((outbox, caps)) = self.map.get(&platform) else {
                tracing::warn!(%platform, "no adapter running for this platform; reply dropped");
                continue;
            };
            let (user, chat, retract) = (reply.user.clone(), reply.chat.clone(), reply.retract.clone());
            for mut part in reply.split(caps.max_message_len) {
                let result = outbox.deliver(&part).await;
                if retract.is_some() {
                    // A second factor or a copy of someone's data: no plain copy stays behind in memory.
                    part.wipe();
                }
                crate::metrics::reply_out(platform, result.is_ok());
                match (result, &retract, &self.retractions) {
                    (Err(error), _, _) => {
                        tracing::warn!(%platform, kind = part.kind_label(), %error, "delivery failed");
                    }
                    (Ok(Some(id)), Some(retract), Some(retractions)) => {
                        if let Err(error) = retractions.record(&user, &chat, id, retract).await {
                            tracing::error!(%error, "could not remember a message to delete later");
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// Deletes every message tagged `tag` sent to `user`.
    pub async fn retract(&self, user: &UserRef, tag: &str) {
        let Some(retractions) = &self.retractions else { return };
        match retractions.take(user, tag).await {
            Ok(sent) => self.delete(sent).await,
            Err(error) => tracing::error!(%error, "could not look up messages to delete"),
        }
    }

    /// Deletes every remembered message whose time is up.
    pub async fn retract_due(&self) {
        let Some(retractions) = &self.retractions else { return };
        match retractions.take_due().await {
            Ok(sent) => self.delete(sent).await,
            Err(error) => tracing::warn!(%error, "could not look up messages due for deletion"),
        }
    }

    /// Deletes `sent`; a user whose message could not be deleted is asked, once, to delete it themselves.
    pub async fn delete(&self, sent: Vec<Sent>) {
        let mut asked: Vec<UserRef> = Vec::new();
        for s in sent {
            let Some((outbox, _)) = self.map.get(&s.chat.platform) else { continue };
            let delete = Reply {
                chat: s.chat.clone(),
                user: s.user.clone(),
                private: false,
                body: ReplyBody::Delete(s.message),
                retract: None,
            };
            match outbox.deliver(&delete).await {
                Ok(_) => {}
                Err(error) => {
                    if !matches!(error, SendError::Unsupported(_)) {
                        tracing::warn!(platform = %s.chat.platform, %error, "could not delete a retracted message");
                    }
                    if !asked.contains(&s.user) {
                        asked.push(s.user.clone());
                        let ask = Reply {
                            chat: s.chat,
                            user: s.user,
                            private: true,
                            body: ReplyBody::Text { text: DELETE_IT_YOURSELF.into(), buttons: Vec::new() },
                            retract: None,
                        };
                        let _ = outbox.deliver(&ask).await;
                    }
                }
            }
        }
    }
}
