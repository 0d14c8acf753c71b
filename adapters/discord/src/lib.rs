//! The Discord adapter for Palisade, on serenity (the only crate of the workspace that uses it).
//!
//! Interactions arrive at an HTTP endpoint Discord posts to (the default: no gateway connection) or over
//! the gateway. Every endpoint request is authenticated before anything else — Ed25519 signature over
//! timestamp ‖ body, a fresh timestamp, an interaction id not seen before — and refused with 401 otherwise.
//! Users are their snowflake ids; DM channels are direct chats, guild channels groups. Slash commands come
//! from the plugins' command metadata; buttons carry random ids resolved here; a step-up code is asked for
//! in a **modal**, so it never enters a channel's history, and private replies are **ephemeral**. Replies
//! answer the interaction (within Discord's 3 seconds, else deferred and followed up through the
//! interaction's webhook), are split at 2000 characters, and the bot token never appears in logs or errors.
//!
//! An interactions-only bot never sees typed messages, so a flow's question is answered with the built-in
//! `/answer <text>` slash command (registered next to the plugins' commands); in gateway mode direct
//! messages are read as well.
//!
//! # Logs
//!
//! This crate logs no token, code or message text. serenity's `#[instrument]` spans, however, record each
//! REST request's route, and follow-up routes contain the *interaction* token (valid 15 minutes, for
//! answering that one interaction): DEBUG/TRACE lines of libraries (`hyper_util`, `reqwest`) emitted inside
//! those spans show it. Keep `serenity`, `hyper_util` and `reqwest` at `info` (the default level) in
//! production; the bot token never appears at any level.
//!
//! Register it in a binary with `Registry::new().adapter("discord", palisade_discord::factory)`, then
//! configure `[adapters.discord]` (see [`DiscordSettings`]).
//!
//! # Layout
//!
//! | module | owns |
//! |---|---|
//! | [`settings`] | `[adapters.discord]`: token, application, public key, mode, proxy, freshness, and their checks |
//! | [`adapter`] | [`DiscordAdapter`]: command registration and the choice between endpoint and gateway |
//! | [`endpoint`] | the interactions endpoint: signature, freshness and replay checks, then the first answer |
//! | [`verify`] | Ed25519 verification (serenity's `Verifier`) and the freshness window |
//! | [`interaction`] | reading an interaction's JSON: who, where, what |
//! | [`dispatches`] | gateway dispatches → events: messages, files, edits, reactions, members |
//! | [`download`] | fetching attachments, from Discord's CDN only, within the size cap |
//! | [`intake`] | interactions → events, and the first answer within the acknowledgement window |
//! | [`exchange`] | the answer state of each interaction, and which interaction a reply answers |
//! | [`order`] | a conversation's gateway messages put back in the order they were sent |
//! | [`outbox`] | delivering replies: first answer, deferred edit, follow-up, or channel/DM message |
//! | [`message`] | what a reply becomes: message, buttons, image, modal |
//! | [`components`] | opaque button ids resolved server-side |
//! | [`commands`] | slash commands from command metadata, and their registration |
//! | [`gateway`] | gateway mode: the serenity client and its event handler |
//! | [`shards`] | gateway shards spread evenly over the replicas running, each on one at a time |
//! | [`rest`] | serenity's `Http` (direct or through a proxy), retries, safe error text |

pub mod adapter;
pub mod commands;
pub mod components;
pub mod dispatches;
pub mod download;
pub mod endpoint;
pub mod exchange;
pub mod gateway;
pub mod intake;
pub mod interaction;
pub mod message;
pub mod order;
pub mod outbox;
pub mod rest;
pub mod settings;
pub mod shards;
pub mod verify;

pub use adapter::{CAPABILITIES, DiscordAdapter};
pub use outbox::DiscordOutbox;
pub use settings::{DiscordSettings, Mode, Snowflake};

use palisade_core::config::{Problem, Section};

/// Builds the adapter from its `[adapters.discord]` table; give it to the runtime's `Registry::adapter("discord", factory)`.
pub fn factory(section: &Section) -> Result<Box<dyn palisade_core::Adapter>, Vec<Problem>> {
    Ok(Box::new(DiscordAdapter::from_section(section)?))
}
