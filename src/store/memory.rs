//! An in-memory backend for tests and throw-away bots.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::StoreError;
use super::backend::{Backend, Pair};

type Tree = BTreeMap<Vec<u8>, Vec<u8>>;

/// Keeps everything in a map. A std `Mutex` (not tokio's) because no lock is held across an `.await`: every
/// operation is a short, synchronous map access.
#[derive(Debug, Default)]
pub struct MemoryBackend {
    trees: Mutex<BTreeMap<String, Tree>>,
}

impl MemoryBackend {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut BTreeMap<String, Tree>) -> T) -> T {
        // A poisoned lock only means another thread panicked mid-operation; map operations leave the map
        // consistent, so keep serving.
        let mut guard = self.trees.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }
}

#[async_trait]
impl Backend for MemoryBackend {
    async fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.with(|t| t.get(tree).and_then(|t| t.get(key)).cloned()))
    }

    async fn insert(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.with(|t| t.entry(tree.to_string()).or_default().insert(key.to_vec(), value.to_vec()));
        Ok(())
    }

    async fn remove(&self, tree: &str, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.with(|t| t.get_mut(tree).is_some_and(|t| t.remove(key).is_some())))
    }

    async fn remove_if_unchanged(&self, tree: &str, key: &[u8], expected: &[u8]) -> Result<bool, StoreError> {
        Ok(self.with(|t| {
            let Some(tree) = t.get_mut(tree) else { return false };
            if tree.get(key).map(Vec::as_slice) == Some(expected) { tree.remove(key).is_some() } else { false }
        }))
    }

    async fn replace_if_unchanged(
        &self,
        tree: &str,
        key: &[u8],
        expected: &[u8],
        value: &[u8],
    ) -> Result<bool, StoreError> {
        Ok(self.with(|t| {
            let Some(held) = t.get_mut(tree).and_then(|t| t.get_mut(key)) else { return false };
            if held.as_slice() != expected {
                return false;
            }
            *held = value.to_vec();
            true
        }))
    }

    async fn insert_if_absent(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.with(|t| match t.entry(tree.to_string()).or_default().entry(key.to_vec()) {
            std::collections::btree_map::Entry::Occupied(held) => Some(held.get().clone()),
            std::collections::btree_map::Entry::Vacant(slot) => {
                slot.insert(value.to_vec());
                None
            }
        }))
    }

    async fn scan_prefix(&self, tree: &str, prefix: &[u8]) -> Result<Vec<Pair>, StoreError> {
        Ok(self.with(|t| {
            t.get(tree).map_or_else(Vec::new, |t| {
                t.range(prefix.to_vec()..)
                    .take_while(|(k, _)| k.starts_with(prefix))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
        }))
    }

    async fn trees(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.with(|t| t.iter().filter(|(_, v)| !v.is_empty()).map(|(k, _)| k.clone()).collect()))
    }

    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
