//! Palisade: a security-first chat-bot framework.
//!
//! One process runs a bot on several chat platforms at once. Adapters turn each platform's traffic into one
//! neutral [`Event`] model; the [`Dispatcher`] keeps every conversation in order, runs events through a
//! stack of layers and routes them to [`Plugin`]s, whose multi-step [`Flow`]s are persisted so they survive
//! restarts. Replies go back through the adapter's [`Outbox`], split to the platform's limits.
//!
//! # Layout
//!
//! | module | owns |
//! |---|---|
//! | [`event`] | the inbound model: [`Event`], [`EventKind`], [`Platform`], [`UserRef`], [`ChatRef`] (immutable ids) |
//! | [`privacy`] | data-subject rights built from data manifests: /privacy, /mydata, /correct, /forget, /consent; the request register |
//! | [`private_file`] | writing files that hold personal data (exports) with owner-only permissions |
//! | [`reply`] | outbound [`Reply`]s, [`Button`]s, and splitting long text |
//! | [`audit`] | the tamper-evident audit trail: MAC-chained, sealed, flushed entries; verification and export |
//! | [`alerts`] | anomaly thresholds over sliding windows; alerts to the log, the audit trail and admin chats |
//! | [`outboxes`] | delivering replies to each platform's adapter, split to its message limit |
//! | [`metrics`] | counters and histograms (Prometheus) — platforms, outcomes and kinds only |
//! | [`health`] | the local `/metrics`, `/healthz` and `/readyz` endpoint |
//! | [`admin`] | `/admin`: staff commands (2FA inspect/reset, block, audit, alerts, reload), role-gated and behind step-up |
//! | [`adapter`] | the [`Adapter`] contract, [`Capabilities`], the [`Outbox`] and the bounded [`EventSink`] |
//! | [`plugin`] | the [`Plugin`] trait, [`Command`] metadata, the handler context [`Ctx`], the [`Registry`] |
//! | [`flow`] | conversation flows: [`Flow`], [`Step`], and their persistence per (user, chat) |
//! | [`dispatch`] | the [`Dispatcher`]: per-conversation ordering, bounded concurrency, the tower layers, the router |
//! | [`stepup`] | step-up TOTP verification: enrolment (`/2fa`), the gate that suspends and resumes sensitive actions, grants, lockout, recovery codes |
//! | [`store`] | the [`Store`] trait, the record layout, the sled and memory backends, plugin-scoped views |
//! | [`config`] | TOML + environment configuration, strict checking, [`Secret`]s |
//! | [`crypto`] | the one place that seals, opens, derives, hashes and compares (orion) |
//! | [`clock`] | wall time that follows tokio's (pausable) clock |
//! | [`console`] | the console adapter (`palisade chat`) |
//! | [`bot`] | assembling and running a bot from configuration |
//! | [`integration`] | the integration policy: an HTTPS-only, allow-listed, bounded HTTP client for plugins; signed outgoing webhooks |
//! | [`logging`] | log output setup |
//!
//! Platform adapters live in their own crates under `adapters/`, plugins under `plugins/`.

pub mod admin;
pub mod alerts;
pub mod audit;
pub mod bot;
pub mod config;
pub mod console;
pub mod dispatch;
pub mod flow;
pub mod health;
pub mod integration;
pub mod logging;
pub mod metrics;
pub mod outboxes;
pub mod plugin;
pub mod privacy;
pub mod private_file;
pub mod stepup;
pub mod store;

pub use palisade_core::{adapter, clock, event, platform, reply, services};
pub use palisade_crypto as crypto;

pub use adapter::{Adapter, AdapterError, Capabilities, EventSink, Outbox, SendError, SinkError};
pub use bot::{Bot, BotError};
pub use config::{Secret, Section};
pub use dispatch::{Dispatcher, Request, Response};
pub use event::{ChatKind, ChatRef, CommandCall, ConversationKey, Event, EventKind, MessageId, Platform, UserRef};
pub use flow::{Flow, Step};
pub use plugin::{Arg, Args, Command, Ctx, DataManifest, Input, LegalBasis, Namespace, Plugin, PluginError, Registry};
pub use reply::{Button, Reply, ReplyBody};
pub use store::{Durability, Store};

/// Re-exported so plugin crates need not depend on it directly.
pub use async_trait::async_trait;

/// Everything a plugin author usually needs.
pub mod prelude {
    pub use crate::async_trait;
    pub use crate::config::{Problem, Section};
    pub use crate::plugin::days;
    pub use crate::{
        Arg, Command, Ctx, DataManifest, Durability, Flow, Input, LegalBasis, Namespace, Plugin, PluginError, Registry,
        Step,
    };
}
