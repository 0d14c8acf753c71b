//! The adapter contract (from `palisade-core`) and the parts adapters share.

pub mod buttons;
pub mod retry;

pub use palisade_core::adapter::*;
