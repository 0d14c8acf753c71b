//! Persistent state behind one [`Store`] trait.
//!
//! Callers name records by namespace, data subject (the person the record is about, if any) and id. How a
//! record is laid out on disk is the store's business: [`RecordStore`] seals every value with the data key
//! of its subject and files it under a keyed hash, over a raw ordered key-value [`Backend`] (sled by default,
//! memory for tests). Nothing here or below it sees a plaintext identifier in a key or a plaintext value.

mod anchor;
mod backend;
mod keyring;
mod layout;
mod master;
mod memory;
mod record;
mod retention;
mod sled;

use std::sync::Arc;

pub use anchor::{Anchor, AnchorState};
pub use backend::Backend;
pub use keyring::{RotationProgress, rotate};
pub use master::{load_master_key, write_key_file};
pub use memory::MemoryBackend;
pub use record::{AcceptedLoss, RecordStore};
pub use retention::{RetentionTask, sweep_expired};
pub use sled::SledBackend;

pub use palisade_core::store::*;

/// Opens the store `[store]` describes: loads the master key, opens the backend, checks the key.
pub async fn open(
    settings: &crate::config::StoreSettings,
    clock: crate::clock::SharedClock,
) -> Result<SharedStore, StoreError> {
    let master = load_master_key(settings)?;
    match settings.backend {
        crate::config::StoreBackend::Sled => {
            let backend = Arc::new(SledBackend::open(&settings.path)?);
            Ok(Arc::new(RecordStore::open_anchored(backend, &master, clock, &anchor_path(settings)).await?))
        }
        crate::config::StoreBackend::Memory => {
            Ok(Arc::new(RecordStore::open(Arc::new(MemoryBackend::new()), &master, clock).await?))
        }
    }
}

/// Where the store's anchor file is: `[store] anchor_file`, or `palisade.anchor` in the data directory.
pub fn anchor_path(settings: &crate::config::StoreSettings) -> std::path::PathBuf {
    settings.anchor_file.clone().unwrap_or_else(|| settings.path.join("palisade.anchor"))
}
