//! A plugin's view of the store: its own namespace, records about the current user, values as JSON.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Durability, RecordKey, SharedStore, StoreError, Subject};

/// Records in one namespace about one subject, encoded as JSON. Handed to plugins so they cannot reach
/// another plugin's data or another user's by accident.
#[derive(Clone)]
pub struct ScopedStore {
    store: SharedStore,
    namespace: String,
    subject: Subject,
    declared: bool,
}

impl std::fmt::Debug for ScopedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopedStore").field("namespace", &self.namespace).finish_non_exhaustive()
    }
}

impl ScopedStore {
    /// Records in `namespace` about `subject`.
    pub fn new(store: SharedStore, namespace: impl Into<String>, subject: Subject) -> Self {
        Self { store, namespace: namespace.into(), subject, declared: true }
    }

    /// Refuses writes (with [`StoreError::Undeclared`]) unless `declared`: the plugin's data manifest must
    /// name the namespace before anything is stored in it.
    #[must_use]
    pub fn declared(mut self, declared: bool) -> Self {
        self.declared = declared;
        self
    }

    fn key<'a>(&'a self, id: &'a str) -> RecordKey<'a> {
        RecordKey { namespace: &self.namespace, subject: Some(&self.subject), id: id.as_bytes() }
    }

    fn codec(&self, e: &serde_json::Error) -> StoreError {
        StoreError::Codec { namespace: self.namespace.clone(), reason: e.to_string() }
    }

    /// Saves `value` under `id`.
    pub async fn put<T: Serialize>(&self, id: &str, value: &T, durability: Durability) -> Result<(), StoreError> {
        if !self.declared {
            return Err(StoreError::Undeclared(self.namespace.clone()));
        }
        let bytes = zeroize::Zeroizing::new(serde_json::to_vec(value).map_err(|e| self.codec(&e))?);
        self.store.put(self.key(id), &bytes, durability).await
    }

    /// Reads the value under `id`.
    pub async fn get<T: DeserializeOwned>(&self, id: &str) -> Result<Option<T>, StoreError> {
        let Some(rec) = self.store.get(self.key(id)).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&rec.value).map(Some).map_err(|e| self.codec(&e))
    }

    /// Deletes the value under `id`; returns whether it existed.
    pub async fn delete(&self, id: &str, durability: Durability) -> Result<bool, StoreError> {
        self.store.delete(self.key(id), durability).await
    }

    /// Every value this user has in the namespace, as `(id, value)` in id order.
    pub async fn list<T: DeserializeOwned>(&self) -> Result<Vec<(String, T)>, StoreError> {
        let mut out = Vec::new();
        for rec in self.store.list(&self.namespace, Some(&self.subject)).await? {
            let value = serde_json::from_slice(&rec.value).map_err(|e| self.codec(&e))?;
            out.push((String::from_utf8_lossy(&rec.id).into_owned(), value));
        }
        Ok(out)
    }
}
