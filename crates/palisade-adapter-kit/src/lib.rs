//! palisade-adapter-kit: what every Palisade platform adapter needs, written once.
//!
//! # Layout
//!
//! | module | owns |
//! |---|---|
//! | [`recent`] | [`RecentIds`]: bounded sets of recently seen delivery ids (dedupe, replay refusal) |
//! | [`expiring`] | [`Expiring`]: bounded maps whose values expire, pruned oldest first |
//! | [`opaque`] | [`OpaqueIds`]: random ids for buttons, resolved only where they were sent |
//! | [`retry`] | [`Backoff`]: retrying platform calls on rate limits and transient failures |
//! | [`webhook`] | the bounded, authenticated-first webhook listener |
//! | [`api_base`] | the rule for API base URLs: https, or http to loopback only |
//! | [`redact`] | masking tokens and credentials in every line the process writes |
//!
//! Arrows point one way: this crate depends on `palisade-core` and `palisade-crypto`; adapters depend on it.

pub mod api_base;
pub mod expiring;
pub mod opaque;
pub mod recent;
pub mod redact;
pub mod retry;
pub mod webhook;

pub use expiring::Expiring;
pub use opaque::{OpaqueIds, random_id};
pub use recent::RecentIds;
pub use retry::{Backoff, Retry};
pub use webhook::{Endpoint, Limits, Listen};
