//! The integration tests of this crate, in one binary (one link instead of one per file).

#![allow(clippy::unwrap_used, missing_docs)] // tests fail loudly by design

#[allow(dead_code)]
mod support;

mod admin;
mod anchor;
mod audit;
mod buttons;
mod config;
mod encryption;
mod flows;
mod identity;
mod integrations;
mod isolation;
mod jobs;
mod log_hygiene;
mod messages;
mod monitoring;
mod privacy;
mod redis_store;
mod reliability;
mod replicas;
mod routing;
mod scheduling;
mod stepup;
mod store;
mod texts;
