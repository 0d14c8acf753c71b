//! Delivery of replies to the adapter of each reply's platform, split to fit its message limit.

use std::collections::HashMap;
use std::sync::Arc;

use crate::adapter::{Capabilities, Outbox};
use crate::event::Platform;
use crate::reply::Reply;

/// The outbox and capabilities of every running adapter.
#[derive(Clone, Default)]
pub struct Outboxes {
    map: HashMap<Platform, (Arc<dyn Outbox>, Capabilities)>,
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

    /// Delivers `replies` in order. A failed delivery is logged (never with content) and the rest go on.
    pub async fn deliver(&self, replies: Vec<Reply>) {
        for reply in replies {
            let platform = reply.chat.platform;
            let Some((outbox, caps)) = self.map.get(&platform) else {
                tracing::warn!(%platform, "no adapter running for this platform; reply dropped");
                continue;
            };
            for part in reply.split(caps.max_message_len) {
                let result = outbox.deliver(&part).await;
                crate::metrics::reply_out(platform, result.is_ok());
                if let Err(error) = result {
                    tracing::warn!(%platform, kind = part.kind_label(), %error, "delivery failed");
                }
            }
        }
    }
}
