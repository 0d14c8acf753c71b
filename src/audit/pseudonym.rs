//! Who an audit entry is about, without saying who: a pseudonym per person, derived from a random salt kept
//! under that person's own data key. Erasing the person shreds the salt with everything else, so their old
//! entries can no longer be linked to them — not even by someone holding the store's keys and their id —
//! and if they come back, they get a new pseudonym.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::crypto::hex;
use crate::event::UserRef;
use crate::locks::KeyedLocks;
use crate::store::{Durability, RecordKey, SharedStore, StoreError, Subject};

/// Where the salts live (declared in the core's data manifest).
pub const NAMESPACE: &str = "core.audit.pseudonym";
const ID: &[u8] = b"salt";
const PURPOSE: &str = "palisade/audit-actor/v2";
/// Pseudonyms remembered in memory at most (they are recomputed from the store when forgotten).
const CACHE: usize = 10_000;

/// Computes and remembers pseudonyms.
pub struct Pseudonyms {
    store: SharedStore,
    creating: KeyedLocks<UserRef>,
    // std Mutex: a map lookup or insert, never held across an await.
    cache: Mutex<HashMap<UserRef, String>>,
}

impl std::fmt::Debug for Pseudonyms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonyms")
    }
}

impl Pseudonyms {
    /// Pseudonyms over the salts in `store`.
    pub fn new(store: SharedStore) -> Self {
        Self { store, creating: KeyedLocks::default(), cache: Mutex::default() }
    }

    /// The pseudonym of `user` (16 hex digits), creating their salt on first use (flushed).
    pub async fn of(&self, user: &UserRef) -> Result<String, StoreError> {
        if let Some(p) = self.cache.lock().unwrap_or_else(PoisonError::into_inner).get(user) {
            return Ok(p.clone());
        }
        let _creating = self.creating.lock(user).await;
        let subject = Subject::user(user);
        let key = RecordKey { namespace: NAMESPACE, subject: Some(&subject), id: ID };
        let salt = match self.store.get(key).await? {
            Some(record) => record.value,
            None => {
                let salt = crate::crypto::random_bytes(32).map_err(|e| StoreError::MasterKey(e.to_string()))?;
                self.store.put(key, &salt, Durability::Flushed).await?;
                salt
            }
        };
        let hash = self.store.keyed_hash(PURPOSE, &[&salt[..], user.to_string().as_bytes()].concat())?;
        let pseudonym = hex(&hash[..8]);
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= CACHE {
            cache.clear();
        }
        cache.insert(user.clone(), pseudonym.clone());
        Ok(pseudonym)
    }

    /// Forgets `user`'s pseudonym (their data, salt included, is being erased).
    pub fn forget(&self, user: &UserRef) {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner).remove(user);
    }
}
