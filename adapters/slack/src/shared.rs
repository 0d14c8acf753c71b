//! The state the receiving side (events, Socket Mode) and the sending side (the outbox) share: the Web API,
//! the button ids, the verification tickets, the latest triggers and response URLs, and the ids of payloads
//! already handled.

use std::sync::Arc;

use crate::api::Api;
use crate::buttons::ButtonIds;
use crate::modal::Tickets;
use crate::recent::Recent;
use palisade_adapter_kit::RecentIds;

/// Shared by every part of one adapter.
#[derive(Debug)]
pub struct Shared {
    /// The Web API with the bot token.
    pub api: Arc<Api>,
    /// Opaque button values.
    pub buttons: ButtonIds,
    /// Open verification modals.
    pub tickets: Tickets,
    /// Recent triggers and response URLs.
    pub recent: Recent,
    /// Payloads already handed to the dispatcher.
    pub seen: RecentIds,
}

impl Shared {
    /// Fresh state around `api`.
    pub fn new(api: Arc<Api>) -> Self {
        Self {
            api,
            buttons: ButtonIds::default(),
            tickets: Tickets::default(),
            recent: Recent::default(),
            seen: RecentIds::default(),
        }
    }
}
