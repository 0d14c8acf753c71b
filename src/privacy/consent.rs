//! Consent records: per user and plugin, the version agreed to and when, or when it was withdrawn.

use serde::{Deserialize, Serialize};

use crate::clock::SharedClock;
use crate::event::UserRef;
use crate::store::{Durability, RecordKey, SharedStore, StoreError, Subject};

const NAMESPACE: &str = "core.privacy.consent";

/// One plugin's consent state for one user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRecord {
    /// The plugin.
    pub plugin: String,
    /// The version of the text agreed to.
    pub version: u32,
    /// When it was given.
    pub given_at_ms: u64,
    /// When it was withdrawn, if it was.
    pub withdrawn_at_ms: Option<u64>,
}

/// Reads and writes consent records.
#[derive(Clone)]
pub struct ConsentBook {
    store: SharedStore,
    clock: SharedClock,
}

impl ConsentBook {
    /// The store consents are kept in.
    pub fn store(&self) -> &SharedStore {
        &self.store
    }
}

impl std::fmt::Debug for ConsentBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConsentBook")
    }
}

fn codec(e: &serde_json::Error) -> StoreError {
    StoreError::Codec { namespace: NAMESPACE.into(), reason: e.to_string() }
}

impl ConsentBook {
    /// Consents kept in `store`.
    pub fn new(store: SharedStore, clock: SharedClock) -> Self {
        Self { store, clock }
    }

    fn key<'a>(subject: &'a Subject, plugin: &'a str) -> RecordKey<'a> {
        RecordKey { namespace: NAMESPACE, subject: Some(subject), id: plugin.as_bytes() }
    }

    /// The user's record for `plugin`.
    pub async fn get(&self, user: &UserRef, plugin: &str) -> Result<Option<ConsentRecord>, StoreError> {
        let subject = Subject::user(user);
        let Some(rec) = self.store.get(Self::key(&subject, plugin)).await? else { return Ok(None) };
        serde_json::from_slice(&rec.value).map(Some).map_err(|e| codec(&e))
    }

    /// True when the user consented to `version` (or later) of `plugin`'s text and has not withdrawn.
    pub async fn has(&self, user: &UserRef, plugin: &str, version: u32) -> Result<bool, StoreError> {
        Ok(self.get(user, plugin).await?.is_some_and(|r| r.withdrawn_at_ms.is_none() && r.version >= version))
    }

    async fn put(&self, user: &UserRef, record: &ConsentRecord) -> Result<(), StoreError> {
        let subject = Subject::user(user);
        let bytes = serde_json::to_vec(record).map_err(|e| codec(&e))?;
        self.store.put(Self::key(&subject, &record.plugin), &bytes, Durability::Flushed).await
    }

    /// Records consent to `version` of `plugin`'s text, now.
    pub async fn give(&self, user: &UserRef, plugin: &str, version: u32) -> Result<(), StoreError> {
        let record =
            ConsentRecord { plugin: plugin.into(), version, given_at_ms: self.clock.now_ms(), withdrawn_at_ms: None };
        self.put(user, &record).await
    }

    /// Records withdrawal, now; returns whether there was a consent to withdraw.
    pub async fn withdraw(&self, user: &UserRef, plugin: &str) -> Result<bool, StoreError> {
        let Some(mut record) = self.get(user, plugin).await?.filter(|r| r.withdrawn_at_ms.is_none()) else {
            return Ok(false);
        };
        record.withdrawn_at_ms = Some(self.clock.now_ms());
        self.put(user, &record).await?;
        Ok(true)
    }

    /// Every consent record of the user.
    pub async fn list(&self, user: &UserRef) -> Result<Vec<ConsentRecord>, StoreError> {
        let subject = Subject::user(user);
        self.store
            .list(NAMESPACE, Some(&subject))
            .await?
            .iter()
            .map(|r| serde_json::from_slice(&r.value).map_err(|e| codec(&e)))
            .collect()
    }
}
