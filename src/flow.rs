//! Conversation flows (from `palisade-core`) and their persistence per (user, chat).

mod store;

pub use palisade_core::flow::*;
pub use store::{FlowState, FlowStore};
