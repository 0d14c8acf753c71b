//! The plugin contract (from `palisade-core`) and the registry of what a binary can run.

mod registry;

pub use palisade_core::plugin::*;
pub use registry::{AdapterFactory, PluginFactory, Registry};
