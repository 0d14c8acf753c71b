//! The tamper-evident audit trail: append-only entries, each carrying a MAC over its content and the previous
//! entry's MAC, sealed in the store like every record and flushed before the caller goes on.
//!
//! What an entry holds: time, event name, a pseudonymous actor (a keyed hash of the identity, never the id),
//! platform, outcome and non-secret details. A head record (the last sequence number and MAC, itself MACed)
//! makes truncation detectable. `palisade audit verify` walks the chain and names the first entry that was
//! changed, removed, inserted or reordered.

mod entry;
mod pseudonym;
mod verify;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use entry::{Entry, Outcome};
pub use pseudonym::Pseudonyms;
pub use verify::{Finding, verify};

use crate::clock::SharedClock;
use crate::crypto::hex;
use crate::event::UserRef;
use crate::store::{Durability, RecordKey, SharedStore, StoreError};

pub(crate) const NAMESPACE: &str = "core.audit";
pub(crate) const HEAD: &[u8] = b"head";
pub(crate) const MAC_PURPOSE: &str = "palisade/audit-mac/v1";

/// Who did something, as the audit trail names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    /// Their pseudonym (see [`Pseudonyms`]).
    pub pseudonym: String,
    /// Their platform.
    pub platform: crate::event::Platform,
}

/// The audit trail of one store.
pub struct Audit {
    store: SharedStore,
    clock: SharedClock,
    /// Appends are serialised so sequence numbers and the chain never fork.
    append: tokio::sync::Mutex<()>,
    pseudonyms: Pseudonyms,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Audit")
    }
}

pub(crate) fn entry_id(seq: u64) -> String {
    format!("e{seq:016}")
}

impl Audit {
    /// The audit trail kept in `store`.
    pub fn new(store: SharedStore, clock: SharedClock) -> Arc<Self> {
        let pseudonyms = Pseudonyms::new(store.clone());
        Arc::new(Self { store, clock, append: tokio::sync::Mutex::new(()), pseudonyms })
    }

    /// The pseudonym of `user` in audit entries: stable until their data is erased, not reversible, and not
    /// linkable to them at all once they are erased (see [`Pseudonyms`]).
    pub async fn pseudonym(&self, user: &UserRef) -> Result<String, StoreError> {
        self.pseudonyms.of(user).await
    }

    /// Forgets `user`'s pseudonym: called when their data (and so their salt) is erased.
    pub fn forget(&self, user: &UserRef) {
        self.pseudonyms.forget(user);
    }

    /// Appends an entry and flushes it; returns its sequence number. `details` must not hold secrets or
    /// personal data (they are sealed at rest, but exports leave the store).
    pub async fn record(
        &self,
        event: &str,
        actor: Option<&UserRef>,
        outcome: Outcome,
        details: &[(&str, String)],
    ) -> Result<u64, StoreError> {
        let actor = match actor {
            Some(user) => Some(Actor { pseudonym: self.pseudonym(user).await?, platform: user.platform }),
            None => None,
        };
        self.record_as(event, actor.as_ref(), outcome, details).await
    }

    /// Like [`Audit::record`], for an actor whose pseudonym was taken earlier (before their data was erased:
    /// asking for it afterwards would give them a new salt, and so new data).
    pub async fn record_as(
        &self,
        event: &str,
        actor: Option<&Actor>,
        outcome: Outcome,
        details: &[(&str, String)],
    ) -> Result<u64, StoreError> {
        let _guard = self.append.lock().await;
        let (last_seq, prev_mac) = match self.head().await? {
            Some(head) => (head.seq, head.mac),
            None => (0, String::new()),
        };
        let mut entry = Entry {
            seq: last_seq + 1,
            at_ms: self.clock.now_ms(),
            event: event.to_string(),
            actor: actor.map(|a| a.pseudonym.clone()),
            platform: actor.map(|a| a.platform),
            outcome,
            details: details.iter().map(|(k, v)| ((*k).to_string(), v.clone())).collect::<BTreeMap<_, _>>(),
            prev_mac,
            mac: String::new(),
        };
        entry.mac = hex(&self.store.keyed_hash(MAC_PURPOSE, &entry.canonical())?);
        self.put(entry_id(entry.seq).as_bytes(), &entry).await?;
        let head = entry::Head::new(entry.seq, entry.mac.clone(), |b| self.store.keyed_hash(MAC_PURPOSE, b))?;
        self.put(HEAD, &head).await?;
        Ok(entry.seq)
    }

    /// Like [`Audit::record`], but a failure is logged instead of returned, for call sites where the action
    /// already happened and must still be answered.
    pub async fn note(&self, event: &str, actor: Option<&UserRef>, outcome: Outcome, details: &[(&str, String)]) {
        if let Err(error) = self.record(event, actor, outcome, details).await {
            tracing::error!(event, %error, "could not write an audit entry");
        }
    }

    async fn put<T: serde::Serialize>(&self, id: &[u8], value: &T) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| StoreError::Codec { namespace: NAMESPACE.into(), reason: e.to_string() })?;
        self.store.put(RecordKey { namespace: NAMESPACE, subject: None, id }, &bytes, Durability::Flushed).await
    }

    async fn head(&self) -> Result<Option<entry::Head>, StoreError> {
        let Some(rec) = self.store.get(RecordKey { namespace: NAMESPACE, subject: None, id: HEAD }).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&rec.value)
            .map(Some)
            .map_err(|e| StoreError::Codec { namespace: NAMESPACE.into(), reason: e.to_string() })
    }

    /// Every readable entry written at or after `since_ms`, in sequence order.
    pub async fn entries_since(&self, since_ms: u64) -> Result<Vec<Entry>, StoreError> {
        let mut out: Vec<Entry> = self
            .store
            .list(NAMESPACE, None)
            .await?
            .into_iter()
            .filter(|r| r.id.starts_with(b"e"))
            .filter_map(|r| serde_json::from_slice::<Entry>(&r.value).ok())
            .filter(|e| e.at_ms >= since_ms)
            .collect();
        out.sort_by_key(|e| e.seq);
        Ok(out)
    }

    /// The last `n` entries.
    pub async fn recent(&self, n: usize) -> Result<Vec<Entry>, StoreError> {
        let all = self.entries_since(0).await?;
        Ok(all[all.len().saturating_sub(n)..].to_vec())
    }

    /// Checks the whole chain; see [`verify`].
    pub async fn verify(&self) -> Result<Vec<Finding>, StoreError> {
        verify::verify(&*self.store).await
    }
}

#[async_trait::async_trait]
impl palisade_core::services::AuditLog for Audit {
    async fn record(
        &self,
        event: &str,
        actor: Option<&UserRef>,
        outcome: Outcome,
        details: &[(&str, String)],
    ) -> Result<u64, StoreError> {
        Audit::record(self, event, actor, outcome, details).await
    }
}
