//! The [`Store`] implementation: records sealed with their subject's data key, under pseudonymous keys, in
//! one backend tree per namespace. See [`super::layout`] for the bytes and [`super::keyring`] for the keys.

use std::sync::Arc;

use async_trait::async_trait;

use super::backend::Backend;
use super::check_namespace;
use super::keyring::Keyring;
use super::layout;
use super::{Durability, NamespaceStats, Record, RecordKey, Store, StoreError, Subject};
use crate::clock::SharedClock;
use crate::crypto::Key;

/// Encrypted records over any [`Backend`].
pub struct RecordStore {
    backend: Arc<dyn Backend>,
    keys: Keyring,
    clock: SharedClock,
}

impl std::fmt::Debug for RecordStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordStore").finish_non_exhaustive()
    }
}

impl RecordStore {
    /// Opens the store in `backend` with `master`, creating its keyring if the backend is empty. Refuses a
    /// wrong key ([`StoreError::WrongKey`]) and a store whose key rotation was interrupted.
    pub async fn open(backend: Arc<dyn Backend>, master: &Key, clock: SharedClock) -> Result<Self, StoreError> {
        let keys = Keyring::open(backend.clone(), master).await?;
        Ok(Self { backend, keys, clock })
    }

    fn unreadable(namespace: &str, reason: &str) -> StoreError {
        StoreError::Unreadable { namespace: namespace.to_string(), reason: reason.to_string() }
    }

    /// Opens one stored value found at `backend_key`.
    async fn open_raw(&self, namespace: &str, backend_key: &[u8], sealed: &[u8]) -> Result<Record, StoreError> {
        let key = match layout::subject_of(backend_key) {
            Some(hash) => self
                .keys
                .subject(&hash, false)
                .await?
                .ok_or_else(|| Self::unreadable(namespace, "its data subject was erased (no data key)"))?,
            None => self.keys.system.clone(),
        };
        let plain = key
            .open(&layout::aad(namespace, backend_key), sealed)
            .map_err(|e| Self::unreadable(namespace, &e.to_string()))?;
        layout::decode(namespace, &plain)
    }

    async fn seal_key(&self, subject: Option<&[u8; layout::HASH_LEN]>) -> Result<Arc<Key>, StoreError> {
        match subject {
            Some(hash) => {
                self.keys.subject(hash, true).await?.ok_or_else(|| Self::unreadable("_keyring", "data key not created"))
            }
            None => Ok(self.keys.system.clone()),
        }
    }

    /// Opens every record under `prefix`; unreadable ones are logged (without content) and reported.
    async fn open_all(&self, namespace: &str, prefix: &[u8]) -> Result<(Vec<Record>, Vec<String>), StoreError> {
        let mut records = Vec::new();
        let mut failures = Vec::new();
        for (key, sealed) in self.backend.scan_prefix(namespace, prefix).await? {
            match self.open_raw(namespace, &key, &sealed).await {
                Ok(r) => records.push(r),
                Err(e) => {
                    let label = layout::label(&key);
                    tracing::warn!(namespace, record = %label, error = %e, "unreadable record skipped");
                    failures.push(format!("record …{label}: {e}"));
                }
            }
        }
        // Keys are hashes, so backend order is random; callers get id order.
        records.sort_by(|a, b| a.id.cmp(&b.id));
        Ok((records, failures))
    }

    async fn durable(&self, durability: Durability) -> Result<(), StoreError> {
        match durability {
            Durability::Flushed => self.backend.flush().await,
            Durability::Batched => Ok(()),
        }
    }
}

#[async_trait]
impl Store for RecordStore {
    async fn put(&self, key: RecordKey<'_>, value: &[u8], durability: Durability) -> Result<(), StoreError> {
        check_namespace(key.namespace)?;
        let (hash, bk) = layout::locate(&self.keys.index, key.namespace, key.subject, key.id);
        let envelope = layout::encode(key.id, value, self.clock.now_ms());
        let sealed = self
            .seal_key(hash.as_ref())
            .await?
            .seal(&layout::aad(key.namespace, &bk), &envelope)
            .map_err(|e| Self::unreadable(key.namespace, &e.to_string()))?;
        self.backend.insert(key.namespace, &bk, &sealed).await?;
        self.durable(durability).await
    }

    async fn get(&self, key: RecordKey<'_>) -> Result<Option<Record>, StoreError> {
        check_namespace(key.namespace)?;
        let (_, bk) = layout::locate(&self.keys.index, key.namespace, key.subject, key.id);
        let Some(sealed) = self.backend.get(key.namespace, &bk).await? else {
            return Ok(None);
        };
        self.open_raw(key.namespace, &bk, &sealed).await.map(Some)
    }

    async fn delete(&self, key: RecordKey<'_>, durability: Durability) -> Result<bool, StoreError> {
        check_namespace(key.namespace)?;
        let (_, bk) = layout::locate(&self.keys.index, key.namespace, key.subject, key.id);
        let existed = self.backend.remove(key.namespace, &bk).await?;
        self.durable(durability).await?;
        Ok(existed)
    }

    async fn list(&self, namespace: &str, subject: Option<&Subject>) -> Result<Vec<Record>, StoreError> {
        check_namespace(namespace)?;
        Ok(self.open_all(namespace, &layout::subject_tag(&self.keys.index, subject)).await?.0)
    }

    async fn scan(&self, namespace: &str) -> Result<Vec<Record>, StoreError> {
        check_namespace(namespace)?;
        Ok(self.open_all(namespace, &[]).await?.0)
    }

    async fn erase_subject(&self, subject: &Subject) -> Result<u64, StoreError> {
        let hash = layout::subject_hash(&self.keys.index, subject);
        // Shred first: once the data key is gone, every copy of the records is unreadable, even if deleting
        // them below is interrupted.
        self.keys.destroy(&hash).await?;
        let tag = layout::subject_tag(&self.keys.index, Some(subject));
        let mut erased = 0;
        for tree in self.backend.trees().await?.into_iter().filter(|t| !t.starts_with('_')) {
            for (key, _) in self.backend.scan_prefix(&tree, &tag).await? {
                erased += u64::from(self.backend.remove(&tree, &key).await?);
            }
        }
        self.backend.flush().await?;
        Ok(erased)
    }

    async fn sweep_older_than(&self, namespace: &str, cutoff_ms: u64) -> Result<u64, StoreError> {
        check_namespace(namespace)?;
        let mut removed = 0;
        for (key, sealed) in self.backend.scan_prefix(namespace, &[]).await? {
            // Removed only if it is still the value judged too old: a record rewritten meanwhile is fresh.
            if let Ok(record) = self.open_raw(namespace, &key, &sealed).await
                && record.written_at_ms < cutoff_ms
            {
                removed += u64::from(self.backend.remove_if_unchanged(namespace, &key, &sealed).await?);
            }
        }
        self.backend.flush().await?;
        Ok(removed)
    }

    async fn purge_orphans(&self) -> Result<u64, StoreError> {
        let mut removed = 0;
        for tree in self.backend.trees().await?.into_iter().filter(|t| !t.starts_with('_')) {
            for (key, _) in self.backend.scan_prefix(&tree, &[1]).await? {
                let orphan = match layout::subject_of(&key) {
                    Some(hash) => self.keys.subject(&hash, false).await?.is_none(),
                    None => false,
                };
                if orphan {
                    removed += u64::from(self.backend.remove(&tree, &key).await?);
                }
            }
        }
        if removed > 0 {
            self.backend.flush().await?;
            tracing::info!(removed, "removed records left behind by an interrupted erasure");
        }
        Ok(removed)
    }

    fn keyed_hash(&self, purpose: &str, data: &[u8]) -> Result<[u8; 32], StoreError> {
        let key = self.keys.index.derive(purpose).map_err(|e| StoreError::MasterKey(e.to_string()))?;
        Ok(key.hash(data))
    }

    async fn subject_count(&self) -> Result<u64, StoreError> {
        self.keys.subject_count().await
    }

    async fn stats(&self) -> Result<Vec<NamespaceStats>, StoreError> {
        let mut stats = Vec::new();
        for namespace in self.backend.trees().await?.into_iter().filter(|t| !t.starts_with('_')) {
            let (records, failures) = self.open_all(&namespace, &[]).await?;
            stats.push(NamespaceStats {
                records: records.len() as u64,
                unreadable: failures.len() as u64,
                failures,
                namespace,
            });
        }
        Ok(stats)
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.backend.flush().await
    }
}
