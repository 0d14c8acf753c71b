//! Step-up grants: proof of a recent verification, scoped to (user, conversation, scope) and expiring after
//! `grant_ttl`.
//!
//! A process alone keeps them in memory only: a restart asks again, which is the safe direction. Replicas
//! sharing a store keep them there (`core.stepup.grants`, sealed under the person's data key), so a grant
//! given on one replica holds on every other, and a revocation or an erasure ends it everywhere at once.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, PoisonError};

use crate::event::{ConversationKey, UserRef};
use crate::store::{Durability, RecordKey, SharedStore, StoreError, Subject};

/// Where replicas keep grants.
pub const NAMESPACE: &str = "core.stepup.grants";

/// Live grants.
#[derive(Default)]
pub struct Grants {
    // std Mutex: held for a map lookup, never across an await.
    live: Mutex<HashMap<(ConversationKey, String), u64>>,
    /// The store other replicas share, when they do.
    shared: Option<SharedStore>,
}

impl std::fmt::Debug for Grants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grants").field("shared", &self.shared.is_some()).finish_non_exhaustive()
    }
}

/// A grant's record id: the conversation (user and chat), then the scope.
fn id(conv: &ConversationKey, scope: &str) -> String {
    format!("{}{scope}", prefix(conv))
}

fn prefix(conv: &ConversationKey) -> String {
    format!("{}\n{}\n", conv.user, conv.chat_id)
}

impl Grants {
    /// Grants kept in `store` when other processes share it, in memory otherwise.
    pub fn over(store: &SharedStore) -> Self {
        Self { live: Mutex::default(), shared: store.shared().then(|| store.clone()) }
    }

    /// Grants `scope` in `conv` until `until_ms`.
    ///
    /// # Errors
    /// When a shared store cannot record it (the user is asked for a code again next time).
    pub async fn grant(&self, conv: ConversationKey, scope: String, until_ms: u64) -> Result<(), StoreError> {
        if let Some(store) = &self.shared {
            let subject = Subject::user(&conv.user);
            let id = id(&conv, &scope);
            let key = RecordKey { namespace: NAMESPACE, subject: Some(&subject), id: id.as_bytes() };
            return store.put(key, &until_ms.to_be_bytes(), Durability::Flushed).await;
        }
        self.live.lock().unwrap_or_else(PoisonError::into_inner).insert((conv, scope), until_ms);
        Ok(())
    }

    /// The scopes granted in `conv` that are still valid at `now_ms` (expired ones are dropped).
    ///
    /// # Errors
    /// When a shared store cannot be read (the event is answered with an apology, and nothing runs).
    pub async fn valid(&self, conv: &ConversationKey, now_ms: u64) -> Result<BTreeSet<String>, StoreError> {
        if let Some(store) = &self.shared {
            let prefix = prefix(conv);
            let records = store.list(NAMESPACE, Some(&Subject::user(&conv.user))).await?;
            let mut scopes = BTreeSet::new();
            for record in records {
                let until = record.value.as_slice().try_into().map_or(0, u64::from_be_bytes);
                let Some(scope) = std::str::from_utf8(&record.id).ok().and_then(|id| id.strip_prefix(&prefix)) else {
                    continue;
                };
                if until > now_ms {
                    scopes.insert(scope.to_string());
                } else {
                    let key =
                        RecordKey { namespace: NAMESPACE, subject: Some(&Subject::user(&conv.user)), id: &record.id };
                    // Gone is gone; whoever removes it first, the answer is the same.
                    let _ = store.swap(key, Some(&record), None, Durability::Batched).await;
                }
            }
            return Ok(scopes);
        }
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        live.retain(|_, until| *until > now_ms);
        Ok(live.keys().filter(|(c, _)| c == conv).map(|(_, s)| s.clone()).collect())
    }

    /// Revokes every grant of `user` (after 2FA is disabled or reset).
    ///
    /// # Errors
    /// When a shared store cannot remove them.
    pub async fn revoke_user(&self, user: &UserRef) -> Result<(), StoreError> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner).retain(|(c, _), _| &c.user != user);
        if let Some(store) = &self.shared {
            let subject = Subject::user(user);
            for record in store.list(NAMESPACE, Some(&subject)).await? {
                let key = RecordKey { namespace: NAMESPACE, subject: Some(&subject), id: &record.id };
                store.delete(key, Durability::Flushed).await?;
            }
        }
        Ok(())
    }
}
