//! The Slack adapter for Palisade, on slack-morphism (the only crate of the workspace that uses it).
//!
//! Traffic arrives over Socket Mode (the default: a WebSocket the bot opens with its app token, no public
//! address needed) or through the Events API (an HTTP listener behind a TLS-terminating proxy, every request
//! authenticated by its v0 signature before it is parsed). Events, slash commands and interactivity
//! payloads are handled in both. Users are `T…/U…` (or `E…/U…` in an Enterprise Grid organisation), never
//! names; direct messages are direct chats, everything else is a group. Buttons are Block Kit buttons with
//! opaque values resolved here. Step-up codes are typed into a modal (`views.open`), so they never enter a
//! channel; private replies are ephemeral in channels, and the enrolment QR code is uploaded only into the
//! user's direct chat. Web API calls are paced to Slack's rate tiers and wait out `Retry-After`; tokens and
//! request bodies are never logged.
//!
//! Register it with `Registry::new().adapter("slack", palisade_slack::factory)`, then configure
//! `[adapters.slack]` (see [`SlackSettings`]).
//!
//! # Layout
//!
//! | module | owns |
//! |---|---|
//! | [`settings`] | `[adapters.slack]`: tokens, mode, API URL, listener, and their checks |
//! | [`adapter`] | [`SlackAdapter`] and its [`CAPABILITIES`]: start-up (`auth.test`) and the choice of transport |
//! | [`connector`] | the HTTPS connector and the single rustls crypto provider (ring) |
//! | [`download`] | fetching shared files with the bot token, only from Slack's file host |
//! | [`api`] | the Web API client: bot token, retries, pacing, direct-message channels, safe error texts |
//! | [`retry`] | waiting out `Retry-After`, backing off on network errors |
//! | [`signature`] | Slack's v0 request signatures and timestamp window |
//! | [`events`] | the Events API listener: authenticate, answer `url_verification`, acknowledge fast |
//! | [`socket`] | Socket Mode: slack-morphism's clients, this crate's envelope handling and acknowledgements |
//! | [`payload`] | the fields read from events, slash commands, interactions and envelopes |
//! | [`inbound`] | mapping payloads to neutral events |
//! | [`identity`] | users and chats from immutable ids |
//! | [`receive`] | handing events to the dispatcher once each; answering expired buttons |
//! | [`outbox`] | delivering replies: messages, ephemeral messages, modals, direct messages, uploads |
//! | [`blocks`] | Block Kit for messages: plain-text sections and buttons |
//! | [`modal`] | the verification modal and its one-time tickets |
//! | [`upload`] | Slack's external file upload |
//! | [`buttons`] | opaque button values resolved server-side |
//! | [`recent`] | the latest trigger ids and response URLs |
//! | [`shared`] | the state the receiving and sending sides share |

pub mod adapter;
pub mod api;
pub mod blocks;
pub mod buttons;
pub mod connector;
pub mod download;
pub mod events;
pub mod identity;
pub mod inbound;
pub mod modal;
pub mod outbox;
pub mod payload;
pub mod receive;
pub mod recent;
pub mod retry;
pub mod settings;
pub mod shared;
pub mod signature;
pub mod socket;
pub mod upload;

pub use adapter::{CAPABILITIES, SlackAdapter};
pub use outbox::SlackOutbox;
pub use settings::{Mode, SlackSettings};

use palisade_core::config::{Problem, Section};

/// Builds the adapter from its `[adapters.slack]` table; give it to the runtime's `Registry::adapter("slack", factory)`.
pub fn factory(section: &Section) -> Result<Box<dyn palisade_core::Adapter>, Vec<Problem>> {
    Ok(Box::new(SlackAdapter::from_section(section)?))
}
