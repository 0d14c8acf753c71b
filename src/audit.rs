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

/// What the store holds after an entry.
enum After {
    /// No entry.
    Nothing,
    /// A whole entry linked to it.
    Linked(Entry),
    /// Something that is not a whole, linked entry.
    Damaged,
}

/// The audit trail of one store.
pub struct Audit {
    store: SharedStore,
    clock: SharedClock,
    /// Appends in this process are serialised; between processes sharing the store, create-only writes keep
    /// the chain from forking.
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
        let (mut last_seq, mut prev_mac) = match self.head().await? {
            Some(head) => (head.seq, head.mac),
            None => (0, String::new()),
        };
        // Entries past the head: a crash came between writing an entry and its head, or another replica
        // sharing the store appended since the head was read. A whole, linked entry is adopted; anything else
        // is left where it is (never overwritten) and the new entry goes after it, so `audit verify` reports
        // it. The new entry is written create-only: when another replica took its number in the meantime,
        // that entry is adopted too and this one goes after it, so replicas extend one chain.
        let entry = loop {
            loop {
                match self.after(last_seq, &prev_mac).await {
                    After::Nothing => break,
                    After::Linked(e) => {
                        tracing::info!(
                            audit_seq = e.seq,
                            "adopted an audit entry written after the head was read (by another replica, or before a crash)"
                        );
                        prev_mac = e.mac;
                    }
                    After::Damaged => tracing::error!(
                        audit_seq = last_seq + 1,
                        "an audit entry past the head is damaged (an interrupted append); it is kept for `palisade audit verify`"
                    ),
                }
                last_seq += 1;
            }
            let mut entry = Entry {
                seq: last_seq + 1,
                at_ms: self.clock.now_ms(),
                event: event.to_string(),
                actor: actor.map(|a| a.pseudonym.clone()),
                platform: actor.map(|a| a.platform),
                outcome,
                details: details.iter().map(|(k, v)| ((*k).to_string(), v.clone())).collect::<BTreeMap<_, _>>(),
                prev_mac: prev_mac.clone(),
                mac: String::new(),
            };
            entry.mac = hex(&self.store.keyed_hash(MAC_PURPOSE, &entry.canonical())?);
            // The entry and its head reach the disk with one flush; the store's anchor (outside its files)
            // records the new head with it.
            if self.create(entry_id(entry.seq).as_bytes(), &entry).await? {
                break entry;
            }
        };
        // The head names the last entry. Another replica may append right after this entry and write its head
        // before this one lands: whoever writes a head looks once more for a later entry, so the last head
        // written never stays behind the chain.
        let (mut head_seq, mut head_mac) = (entry.seq, entry.mac.clone());
        loop {
            let head = entry::Head::new(head_seq, head_mac.clone(), |b| self.store.keyed_hash(MAC_PURPOSE, b))?;
            self.store.note_audit_head(head_seq, &head.head_mac);
            self.put(HEAD, &head, Durability::Flushed).await?;
            match self.after(head_seq, &head_mac).await {
                After::Linked(next) => (head_seq, head_mac) = (next.seq, next.mac),
                After::Nothing | After::Damaged => break,
            }
        }
        tracing::info!(audit_seq = entry.seq, event, "audit entry appended");
        Ok(entry.seq)
    }

    /// Like [`Audit::record`], but a failure is logged instead of returned, for call sites where the action
    /// already happened and must still be answered.
    pub async fn note(&self, event: &str, actor: Option<&UserRef>, outcome: Outcome, details: &[(&str, String)]) {
        if let Err(error) = self.record(event, actor, outcome, details).await {
            tracing::error!(event, %error, "could not write an audit entry");
        }
    }

    /// What follows entry `seq` (whose MAC is `mac`) in the store.
    async fn after(&self, seq: u64, mac: &str) -> After {
        let next = entry_id(seq + 1);
        let key = RecordKey { namespace: NAMESPACE, subject: None, id: next.as_bytes() };
        let Some(rec) = self.store.get(key).await.ok().flatten() else { return After::Nothing };
        let linked = serde_json::from_slice::<Entry>(&rec.value).ok().filter(|e| {
            let own = self.store.keyed_hash(MAC_PURPOSE, &e.canonical()).map(|m| hex(&m)).unwrap_or_default();
            e.seq == seq + 1 && e.prev_mac == mac && crate::crypto::ct_eq(own.as_bytes(), e.mac.as_bytes())
        });
        linked.map_or(After::Damaged, After::Linked)
    }

    /// Writes an entry unless its number is taken; returns whether it was written (not flushed).
    async fn create(&self, id: &[u8], entry: &Entry) -> Result<bool, StoreError> {
        let bytes = serde_json::to_vec(entry)
            .map_err(|e| StoreError::Codec { namespace: NAMESPACE.into(), reason: e.to_string() })?;
        self.store.create(RecordKey { namespace: NAMESPACE, subject: None, id }, &bytes, Durability::Batched).await
    }

    async fn put<T: serde::Serialize>(&self, id: &[u8], value: &T, durability: Durability) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| StoreError::Codec { namespace: NAMESPACE.into(), reason: e.to_string() })?;
        self.store.put(RecordKey { namespace: NAMESPACE, subject: None, id }, &bytes, durability).await
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

    /// Checks the whole chain, and that it reaches at least the head the store's anchor recorded and
    /// `expect_seq` (a number the operator kept elsewhere); see [`verify`].
    ///
    /// Appends wait while it runs, so a running bot's verification never sees an append half done.
    pub async fn verify(&self, expect_seq: Option<u64>) -> Result<Vec<Finding>, StoreError> {
        let _guard = self.append.lock().await;
        verify::verify(&*self.store, expect_seq).await
    }

    /// The head's sequence number: how many entries the chain has (0 when empty).
    pub async fn length(&self) -> Result<u64, StoreError> {
        Ok(self.head().await?.map_or(0, |h| h.seq))
    }

    /// Records the current head in the store's anchor (after `palisade store accept-loss`).
    pub async fn reanchor(&self) -> Result<(), StoreError> {
        let _guard = self.append.lock().await;
        if let Some(head) = self.head().await? {
            self.store.note_audit_head(head.seq, &head.head_mac);
        }
        self.store.flush().await
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
