//! The opaque ids adapters put on buttons, shared by replicas through the store (`core.buttons`): a button
//! sent by one replica is resolved by whichever replica receives the press. What an id stands for (the chat
//! it went to and the runtime's sealed button data) is sealed like every record; ids are kept
//! [`BUTTONS_KEPT_FOR`], after which a press on that button is answered "expired".

use std::time::Duration;

use async_trait::async_trait;

use crate::adapter::IdBook;
use crate::store::{Durability, RecordKey, SharedStore};

/// Where replicas keep button ids.
pub const NAMESPACE: &str = "core.buttons";
/// How long a button id stays valid among replicas.
pub const BUTTONS_KEPT_FOR: Duration = Duration::from_secs(7 * 24 * 3600);

/// The id book over a shared store.
#[derive(Clone)]
pub struct StoreIdBook {
    store: SharedStore,
}

impl std::fmt::Debug for StoreIdBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreIdBook").finish_non_exhaustive()
    }
}

impl StoreIdBook {
    /// The book in `store`.
    pub fn new(store: SharedStore) -> Self {
        Self { store }
    }
}

#[async_trait]
impl IdBook for StoreIdBook {
    async fn remember(&self, id: &str, value: &[u8]) -> Result<(), String> {
        let key = RecordKey { namespace: NAMESPACE, subject: None, id: id.as_bytes() };
        self.store.put(key, value, Durability::Flushed).await.map_err(|e| e.to_string())
    }

    async fn recall(&self, id: &str) -> Result<Option<Vec<u8>>, String> {
        let key = RecordKey { namespace: NAMESPACE, subject: None, id: id.as_bytes() };
        let record = self.store.get(key).await.map_err(|e| e.to_string())?;
        Ok(record.map(|r| r.value.to_vec()))
    }
}
