//! The adapter kit's integration tests, in one binary.

#![allow(clippy::unwrap_used, missing_docs)] // tests fail loudly by design

mod webhook;
