//! Persistent state behind one [`Store`] trait.
//!
//! Callers name records by namespace, data subject (the person the record is about, if any) and id. How a
//! record is laid out on disk is the store's business: [`RecordStore`] seals every value with the data key
//! of its subject and files it under a keyed hash, over a raw ordered key-value [`Backend`] (sled by default,
//! Redis or Redis Cluster for several replicas, memory for tests). Nothing here or below it sees a plaintext identifier in a key or a plaintext value.

pub mod anchor;
mod backend;
pub mod backup;
mod keyring;
mod layout;
mod master;
mod memo;
mod memory;
mod record;
mod redis;
mod retention;
mod sled;

use std::sync::Arc;

pub use anchor::{Anchor, AnchorState};
pub use backend::Backend;
pub use backup::{BackupSummary, BackupTask};
pub use keyring::{RotationProgress, key_id, rotate};
pub use master::{load_master_key, write_key_file};
pub use memory::MemoryBackend;
pub use record::{AcceptedLoss, RecordStore};
pub use redis::RedisBackend;
pub use retention::{RetentionTask, SharedRules, rules as retention_rules, sweep_expired};
pub use sled::SledBackend;

pub use palisade_core::store::*;

/// Opens the store `[store]` describes: loads the master key, opens the backend, checks the key.
///
/// # Errors
/// When the key cannot be loaded, the backend cannot be opened, or the key or anchor do not match.
pub async fn open(
    settings: &crate::config::StoreSettings,
    clock: crate::clock::SharedClock,
) -> Result<SharedStore, StoreError> {
    Ok(open_records(settings, clock).await?)
}

/// Like [`open`], as the concrete [`RecordStore`] (for backups).
///
/// # Errors
/// As [`open`].
pub async fn open_records(
    settings: &crate::config::StoreSettings,
    clock: crate::clock::SharedClock,
) -> Result<Arc<RecordStore>, StoreError> {
    let master = load_master_key(settings)?;
    match settings.backend {
        crate::config::StoreBackend::Sled => {
            let anchor = anchor_path(settings);
            check_key_before_open(settings, &master)?;
            let backend = Arc::new(SledBackend::open(&settings.path)?);
            Ok(Arc::new(RecordStore::open_anchored(backend, &master, clock, &anchor).await?))
        }
        crate::config::StoreBackend::Memory => {
            Ok(Arc::new(RecordStore::open(Arc::new(MemoryBackend::new()), &master, clock).await?))
        }
        crate::config::StoreBackend::Redis => {
            let backend = Arc::new(RedisBackend::connect(&settings.redis).await?);
            Ok(Arc::new(RecordStore::open(backend, &master, clock).await?))
        }
    }
}

/// Refuses a master key the anchor file does not name, before the database is opened: opening sled
/// rewrites its files (it recovers and starts a new segment), and a refused open must change nothing.
///
/// # Errors
/// [`StoreError::WrongKey`] when the anchor names other keys.
pub fn check_key_before_open(
    settings: &crate::config::StoreSettings,
    master: &crate::crypto::Key,
) -> Result<(), StoreError> {
    match anchor::key_ids(&anchor_path(settings)) {
        Some(ids) if !ids.contains(&key_id(master)?) => Err(StoreError::WrongKey),
        _ => Ok(()),
    }
}

/// Where the store's anchor file is: `[store] anchor_file`, or `palisade.anchor` in the data directory.
pub fn anchor_path(settings: &crate::config::StoreSettings) -> std::path::PathBuf {
    settings.anchor_file.clone().unwrap_or_else(|| settings.path.join("palisade.anchor"))
}

/// Restores the backup `file` into the data directory `[store]` names, which must not hold a store yet:
/// checks the whole backup against the configured master key first (nothing is written if it fails), then
/// writes it, flushes it and anchors it. Returns the restored store and what the backup held.
///
/// # Errors
/// When the directory already holds a store, the backup is damaged or made with another key, or the
/// directory cannot be written.
pub async fn restore(
    file: &std::path::Path,
    settings: &crate::config::StoreSettings,
    clock: crate::clock::SharedClock,
) -> Result<(RecordStore, BackupSummary), StoreError> {
    let master = load_master_key(settings)?;
    if settings.backend == crate::config::StoreBackend::Redis {
        return restore_into_redis(file, settings, &master, clock).await;
    }
    let dir = &settings.path;
    let occupied = std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(false);
    let anchor = anchor_path(settings);
    if occupied || anchor.exists() {
        return Err(StoreError::Open {
            path: dir.display().to_string(),
            reason: format!(
                "it is not empty{}; restore only into an empty directory: move the damaged one aside first",
                if anchor.exists() {
                    format!(" (or its anchor file {} exists)", anchor.display())
                } else {
                    String::new()
                }
            ),
        });
    }
    let verified = backup::verify(file, &master).await?;
    let backend: Arc<dyn Backend> = Arc::new(SledBackend::open(dir)?);
    backup::load(&verified, &*backend).await?;
    let (store, _) = RecordStore::accept_loss(backend, &master, clock, &anchor).await?;
    Ok((store, verified.summary.clone()))
}

/// [`restore`] into the Redis `[store.redis]` names, whose key prefix must hold nothing yet.
async fn restore_into_redis(
    file: &std::path::Path,
    settings: &crate::config::StoreSettings,
    master: &crate::crypto::Key,
    clock: crate::clock::SharedClock,
) -> Result<(RecordStore, BackupSummary), StoreError> {
    let backend: Arc<dyn Backend> = Arc::new(RedisBackend::connect(&settings.redis).await?);
    if !backend.trees().await?.is_empty() {
        return Err(StoreError::Open {
            path: settings.location(),
            reason: format!(
                "keys under the prefix `{}` exist already; restore only into an empty one: choose a new \
                 `store.redis.key_prefix` (or delete the old keys) first",
                settings.redis.key_prefix
            ),
        });
    }
    let verified = backup::verify(file, master).await?;
    backup::load(&verified, &*backend).await?;
    let store = RecordStore::open(backend, master, clock).await?;
    Ok((store, verified.summary.clone()))
}
