//! The integration tests of this crate, in one binary (one link instead of one per file).

#![allow(clippy::unwrap_used, missing_docs)] // tests fail loudly by design

#[allow(dead_code)]
mod support;

mod conformance;
mod endpoint;
mod events;
mod gateway;
mod outbox;
mod shards;
mod stepup;
