//! The integration policy: every outside service a plugin talks to is an explicit, vetted decision.
//!
//! A plugin declares the hosts it needs ([`crate::Plugin::integrations`]); the operator allows them in
//! `[integrations.<plugin>] allow = [...]`. The plugin gets an [`HttpClient`] (via [`crate::Ctx::http`]) that
//! only speaks HTTPS, only to hosts both declared and allowed, with a timeout and a response size cap, and
//! refuses everything else with a clear, audited error. Outgoing webhooks to business systems are signed
//! with HMAC-SHA256 over the timestamp and body when a secret is configured ([`sign`]).

mod client;
mod webhook;

pub use client::{HttpClient, IntegrationError, Response};
pub use webhook::{SIGNATURE_HEADER, sign, verify};
