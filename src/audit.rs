//! The tamper-evident audit trail: append-only entries, each carrying a MAC over its content and the previous
//! entry's MAC, sealed in the store like every record and flushed before the caller goes on.
//!
//! What an entry holds: time, event name, a pseudonymous actor (a keyed hash of the identity, never the id),
//! platform, outcome and non-secret details. A head record (the last sequence number and MAC, itself MACed)
//! makes truncation detectable. `palisade audit verify` walks the chain and names the first entry that was
//! changed, removed, inserted or reordered.

mod entry;
mod verify;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use entry::{Entry, Outcome};
pub use verify::{Finding, verify};

use crate::clock::SharedClock;
use crate::crypto::hex;
use crate::event::UserRef;
use crate::store::{Durability, RecordKey, SharedStore, StoreError};

pub(crate) const NAMESPACE: &str = "core.audit";
pub(crate) const HEAD: &[u8] = b"head";
pub(crate) const MAC_PURPOSE: &str = "palisade/audit-mac/v1";
const ACTOR_PURPOSE: &str = "palisade/audit-actor/v1";

/// The audit trail of one store.
pub struct Audit {
    store: SharedStore,
    clock: SharedClock,
    /// Appends are serialised so sequence numbers and the chain never fork.
    append: tokio::sync::Mutex<()>,
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
        Arc::new(Self { store, clock, append: tokio::sync::Mutex::new(()) })
    }

    /// The pseudonym of `user` in audit entries: stable, not reversible without the store's keys.
    pub fn pseudonym(&self, user: &UserRef) -> Result<String, StoreError> {
        Ok(hex(&self.store.keyed_hash(ACTOR_PURPOSE, user.to_string().as_bytes())?[..8]))
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
        let actor_pseudonym = actor.map(|u| self.pseudonym(u)).transpose()?;
        let _guard = self.append.lock().await;
        let (last_seq, prev_mac) = match self.head().await? {
            Some(head) => (head.seq, head.mac),
            None => (0, String::new()),
        };
        let mut entry = Entry {
            seq: last_seq + 1,
            at_ms: self.clock.now_ms(),
            event: event.to_string(),
            actor: actor_pseudonym,
            platform: actor.map(|u| u.platform),
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
