//! palisade-core: what plugin and adapter authors depend on.
//!
//! A Palisade bot is a runtime (the `palisade` crate: dispatcher, step-up, privacy, audit, the encrypted
//! store) running plugins and adapters. This crate is the contract between them, and nothing heavier than
//! serde, async-trait, thiserror, tokio's sync and time parts, and tracing: plugins and adapters compile
//! against it alone.
//!
//! # Layout
//!
//! | module | owns |
//! |---|---|
//! | [`platform`] | [`Platform`]: an open set of platform names |
//! | [`event`] | the inbound model: [`Event`], [`EventKind`] (text, commands, buttons, members, reactions, edits, files), [`UserRef`], [`ChatRef`] (immutable ids) |
//! | [`reply`] | outbound [`Reply`]s, [`Button`]s, and splitting long text |
//! | [`plugin`] | the [`Plugin`] trait, [`Command`] metadata with typed arguments (bound to their handlers with `Commands`), free-text [`Matcher`]s, scheduled jobs, the handler context [`Ctx`], data manifests |
//! | [`flow`] | conversation flows: [`Flow`] (keyed or typed state) and [`Step`] |
//! | [`store`] | the async [`Store`] trait, record names, [`ScopedStore`] for plugins |
//! | [`texts`] | the catalogue of built-in texts users read, and an operator's translations of them |
//! | [`adapter`] | the [`Adapter`] contract, [`Capabilities`], the [`Outbox`] and the bounded [`EventSink`]; with replicas, the [`Lead`] of a role only one may do and the [`IdBook`] of button ids |
//! | [`services`] | runtime services as traits: [`AuditLog`], [`Http`], [`Observer`], [`Messenger`] |
//! | [`config`] | a plugin's or adapter's settings table ([`Section`]), [`Problem`]s, [`Secret`]s |
//! | [`clock`] | wall time that follows tokio's (pausable) clock in tests |
//!
//! Arrows point one way: this crate depends on no other Palisade crate.

pub mod adapter;
pub mod clock;
pub mod config;
pub mod event;
pub mod flow;
pub mod platform;
pub mod plugin;
pub mod reply;
pub mod services;
pub mod store;
pub mod texts;

pub use adapter::{
    Adapter, AdapterError, Admission, Capabilities, Envelope, EventSink, IdBook, Lead, Leadership, Outbox, Pending,
    SendError, SendPolicy, SendRate, SinkError,
};
pub use config::{Problem, Secret, Section};
pub use event::{ChatKind, ChatRef, CommandCall, ConversationKey, Event, EventKind, FileInfo, MessageId, UserRef};
pub use flow::{Flow, Step};
pub use platform::Platform;
pub use plugin::{
    Approval, Arg, ArgKind, ArgValue, Args, Command, Ctx, DataManifest, InGroups, Input, LegalBasis, Matched, Matcher,
    Namespace, Plugin, PluginError,
};
pub use reply::{Button, Reply, ReplyBody, Retract};
pub use services::{AuditLog, Connection, Http, HttpError, HttpResponse, Messenger, Observer, Outcome, Sent};
pub use store::{Durability, ScopedStore, Store, StoreError};

/// Re-exported so plugin crates need not depend on it directly.
pub use async_trait::async_trait;

/// Everything a plugin author usually needs.
pub mod prelude {
    pub use crate::async_trait;
    pub use crate::config::{Problem, Section};
    pub use crate::plugin::{Commands, days};
    pub use crate::{
        Arg, Command, Ctx, DataManifest, Durability, Flow, InGroups, Input, LegalBasis, Matcher, Namespace, Plugin,
        PluginError, Step,
    };
}
