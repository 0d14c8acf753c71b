//! Persistent state behind one [`Store`] trait.
//!
//! Callers name records by namespace, data subject (the person the record is about, if any) and id. How a
//! record is laid out on disk is the store's business: [`RecordStore`] seals every value with the data key
//! of its subject and files it under a keyed hash, over a raw ordered key-value [`Backend`] (sled by default,
//! memory for tests). Nothing here or below it sees a plaintext identifier in a key or a plaintext value.

mod backend;
mod keyring;
mod layout;
mod master;
mod memory;
mod record;
mod retention;
mod sled;

use std::sync::Arc;

pub use backend::Backend;
pub use keyring::{RotationProgress, rotate};
pub use master::{load_master_key, write_key_file};
pub use memory::MemoryBackend;
pub use record::RecordStore;
pub use retention::{RetentionTask, sweep_expired};
pub use sled::SledBackend;

pub use palisade_core::store::*;

/// Opens the store `[store]` describes: loads the master key, opens the backend, checks the key.
pub async fn open(
    settings: &crate::config::StoreSettings,
    clock: crate::clock::SharedClock,
) -> Result<SharedStore, StoreError> {
    let master = load_master_key(settings)?;
    let backend: Arc<dyn Backend> = match settings.backend {
        crate::config::StoreBackend::Sled => Arc::new(SledBackend::open(&settings.path)?),
        crate::config::StoreBackend::Memory => Arc::new(MemoryBackend::new()),
    };
    Ok(Arc::new(RecordStore::open(backend, &master, clock).await?))
}
