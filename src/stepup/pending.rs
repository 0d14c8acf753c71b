//! The action waiting for a code: the original event, exactly as the user sent it, and what it needs approved.
//! One per user and platform, kept sealed in `core.stepup.pending` so it survives a restart.

use serde::{Deserialize, Serialize};

use crate::event::{Event, UserRef};
use crate::store::{Durability, RecordKey, SharedStore, StoreError, Subject};

const NAMESPACE: &str = "core.stepup.pending";

/// A suspended action.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pending {
    /// The event to run again once verified.
    pub event: Event,
    /// What must be approved: the scope (`bank.transfer`) and, for single-use approvals, the details.
    #[serde(flatten)]
    pub approval: crate::plugin::Approval,
    /// When it was suspended, ms since the epoch.
    pub created_at_ms: u64,
}

fn codec(e: &serde_json::Error) -> StoreError {
    StoreError::Codec { namespace: NAMESPACE.into(), reason: e.to_string() }
}

/// Loads and saves suspended actions.
#[derive(Clone)]
pub struct PendingActions {
    store: SharedStore,
}

impl std::fmt::Debug for PendingActions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PendingActions")
    }
}

impl PendingActions {
    /// Suspended actions kept in `store`.
    pub fn new(store: SharedStore) -> Self {
        Self { store }
    }

    fn key<'a>(subject: &'a Subject, user: &'a UserRef) -> RecordKey<'a> {
        RecordKey { namespace: NAMESPACE, subject: Some(subject), id: user.platform.as_str().as_bytes() }
    }

    /// The user's suspended action, if any.
    pub async fn load(&self, user: &UserRef) -> Result<Option<Pending>, StoreError> {
        let subject = Subject::user(user);
        let Some(rec) = self.store.get(Self::key(&subject, user)).await? else { return Ok(None) };
        serde_json::from_slice(&rec.value).map(Some).map_err(|e| codec(&e))
    }

    /// Suspends `pending`, replacing any earlier one.
    pub async fn save(&self, pending: &Pending) -> Result<(), StoreError> {
        let subject = Subject::user(&pending.event.user);
        let bytes = zeroize::Zeroizing::new(serde_json::to_vec(pending).map_err(|e| codec(&e))?);
        self.store.put(Self::key(&subject, &pending.event.user), &bytes, Durability::Batched).await
    }

    /// Takes the user's suspended action for running: deleted and flushed before the caller runs it, so a
    /// crash afterwards can never run it a second time.
    pub async fn claim(&self, user: &UserRef) -> Result<bool, StoreError> {
        let subject = Subject::user(user);
        self.store.delete(Self::key(&subject, user), Durability::Flushed).await
    }

    /// Drops the user's suspended action.
    pub async fn clear(&self, user: &UserRef) -> Result<(), StoreError> {
        let subject = Subject::user(user);
        self.store.delete(Self::key(&subject, user), Durability::Batched).await.map(|_| ())
    }
}
