//! Shared test fixtures: the test kit's harness and stores, and a probe plugin.

pub mod probe;
pub mod stepup;

pub use palisade_testkit::{Harness, event, memory_store, sled_store, test_key, text_of, user};
