//! Palisade: a security-first chat-bot framework. This crate is its runtime.
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
//! | [`admin`] | `/admin`: staff commands (2FA inspect/reset, block, audit, alerts, reload), role-gated and behind step-up |
//! | [`alerts`] | anomaly thresholds over sliding windows; alerts to the log, the audit trail and admin chats; the [`alerts::CountLayer`] |
//! | [`audit`] | the tamper-evident audit trail: MAC-chained, sealed, flushed entries; verification and export |
//! | [`bot`] | assembling and running a bot from configuration; [`bot::Services`] builds audit, alerts, step-up, access and privacy and layers them around the dispatcher |
//! | [`config`] | TOML + environment configuration, strict checking, the runtime's settings |
//! | [`console`] | the console adapter (`palisade chat`) |
//! | [`control`] | the control socket: the command line reaches the running bot (peer-checked, audited); `status` and `reload` answered there |
//! | [`dispatch`] | the [`Dispatcher`]: per-conversation ordering, bounded concurrency, the layer stack (trace, rate limits, apologies, timeouts, panics, roles and blocks), the router |
//! | [`flow`] | persistence of conversation flows per (user, chat) |
//! | [`health`] | the local `/metrics`, `/healthz` and `/readyz` endpoint |
//! | [`identity`] | one person across platforms: link codes, `/link` and `/unlink`, linked subjects in the store |
//! | [`ids`] | replicas sharing one store: the opaque ids adapters put on buttons, resolved on whichever replica gets the press |
//! | [`integration`] | the integration policy: an HTTPS-only, allow-listed, bounded HTTP client for plugins; signed outgoing webhooks |
//! | [`chats`] | the group chats the bot was written to in, where plugins may post first |
//! | [`jobs`] | scheduled jobs plugins ask for: sealed under their user, indexed by due time, run when due |
//! | [`journal`] | the journal of accepted events (none is lost by a crash) and the deliveries already seen |
//! | [`leases`] | replicas sharing one store: the lead of a role only one may do at a time (polling Telegram), renewed, taken over when its holder dies |
//! | [`locks`] | async locks per key (per user, say): callers for one key take turns, others never wait |
//! | [`logging`] | log output setup and the redacting writer |
//! | [`messenger`] | messages plugins write first, and edits and deletions of what they sent |
//! | [`metrics`] | counters and histograms (Prometheus): platforms, outcomes and kinds only |
//! | [`outboxes`] | the send scheduler: replies in order per conversation, paced to each platform's limits, split to its message size |
//! | [`plugin`] | the [`Registry`] of plugins and adapters a binary can run |
//! | [`privacy`] | data-subject rights built from data manifests: /privacy, /mydata, /correct, /forget, /consent; the request register; the [`privacy::ConsentLayer`] |
//! | [`private_file`] | writing files that hold personal data (exports) with owner-only permissions |
//! | [`reload`] | re-reading the configuration while the bot runs: what is applied, what needs a restart |
//! | [`replicas`] | replicas sharing one store: each holds its name with a heartbeat, so no two run under one |
//! | [`retractions`] | where retractable messages (second factors, data exports) landed, to delete them later |
//! | [`status`] | what `palisade status` reports: adapters' connection states, queue depths, the report itself |
//! | [`stepup`] | step-up TOTP verification: enrolment (`/2fa`), the [`stepup::GateLayer`] that suspends and resumes sensitive actions, grants, lockout, recovery codes |
//! | [`store`] | the encrypted [`store::RecordStore`]: record layout, keys and rotation, retention, the sled and memory backends |
//! | `sweep` | when a map of entries that go stale is swept of them: once it has doubled, so each insert pays a constant share |
//! | [`turns`] | replicas sharing one store: a conversation's events take turns through a line in the store, wherever they arrived |
//! | [`watch`] | the bot watching itself: queue depths, store size, rights requests, periodic audit verification |
//!
//! The contract between the runtime, plugins and adapters comes from `palisade-core` and is re-exported
//! here: [`adapter`], [`clock`], [`event`], [`platform`], [`reply`] and [`services`], the plugin and store
//! traits in [`plugin`] and [`store`], and the flow types in [`flow`]. [`crypto`] is `palisade-crypto`, the
//! one cryptography module. The other crates: `palisade-adapter-kit` (what adapters share),
//! `palisade-cli` (the `palisade` command line), `palisade-testkit` (test support), the platform adapters
//! under `adapters/` and the demo plugins under `plugins/`.

pub mod admin;
pub mod alerts;
pub mod audit;
pub mod bot;
pub mod chats;
pub mod config;
pub mod console;
pub mod control;
pub mod dispatch;
pub mod flow;
pub mod health;
pub mod identity;
pub mod ids;
pub mod integration;
pub mod jobs;
pub mod journal;
pub mod leases;
pub mod locks;
pub mod logging;
pub mod messenger;
pub mod metrics;
pub mod outboxes;
pub mod plugin;
pub mod privacy;
pub mod private_file;
pub mod reload;
pub mod replicas;
pub mod retractions;
pub mod status;
pub mod stepup;
pub mod store;
mod sweep;
pub mod turns;
pub mod watch;

pub use palisade_core::{adapter, clock, event, platform, reply, services};
pub use palisade_crypto as crypto;

pub use adapter::{
    Adapter, AdapterError, Admission, Capabilities, Envelope, EventSink, Outbox, Pending, SendError, SendPolicy,
    SendRate, SinkError,
};
pub use bot::{Bot, BotError};
pub use config::{Secret, Section};
pub use dispatch::{Dispatcher, Request, Response};
pub use event::{
    ChatKind, ChatRef, CommandCall, ConversationKey, Event, EventKind, FileInfo, MessageId, Platform, UserRef,
};
pub use flow::{Flow, Step};
pub use plugin::{
    Arg, Args, Command, Ctx, DataManifest, InGroups, Input, LegalBasis, Matcher, Namespace, Plugin, PluginError,
    Registry,
};
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
