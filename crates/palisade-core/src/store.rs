//! State behind one async [`Store`] trait.
//!
//! Callers name records by namespace, data subject (the person the record is about, if any) and id. How a
//! record is laid out and protected is the implementation's business: the runtime's store seals every value
//! with the data key of its subject and files it under a keyed hash, so nothing below it sees a plaintext
//! identifier or value. Plugins get a [`ScopedStore`]: their own namespace, the current user, JSON values.
//!
//! The trait is async so that a store on a network (Redis) or one that fsyncs never blocks the runtime's
//! worker threads.

mod error;
mod names;
mod scoped;

use std::sync::Arc;

use async_trait::async_trait;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::event::UserRef;

pub use error::StoreError;
pub use names::check_namespace;
pub use scoped::ScopedStore;

/// The person a record is about. Its text form is the immutable identity (`telegram:123456`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Subject(String);

impl Subject {
    /// The subject for a platform user.
    pub fn user(user: &UserRef) -> Self {
        Self(user.to_string())
    }

    /// The identity text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Names one record.
#[derive(Clone, Copy, Debug)]
pub struct RecordKey<'a> {
    /// Namespace, e.g. `notes` or `core.flows`; not personal data.
    pub namespace: &'a str,
    /// The data subject, when the record is about a person.
    pub subject: Option<&'a Subject>,
    /// The record's id within namespace and subject.
    pub id: &'a [u8],
}

/// How hard a write must be persisted before `put` returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// May sit in the write buffer briefly (flow state, caches).
    Batched,
    /// On disk before returning: audit entries, replay markers, erasures, sensitive-action results.
    Flushed,
}

/// A record as read back.
#[derive(Debug)]
pub struct Record {
    /// The id it was written under.
    pub id: Vec<u8>,
    /// The value; wiped from memory when dropped.
    pub value: Zeroizing<Vec<u8>>,
    /// When it was written, ms since the Unix epoch.
    pub written_at_ms: u64,
}

/// Counts per namespace, for `palisade store stats` and metrics.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct NamespaceStats {
    /// Namespace name.
    pub namespace: String,
    /// Records that opened.
    pub records: u64,
    /// Records that could not be read (corrupt or tampered).
    pub unreadable: u64,
    /// One line per unreadable record: a non-identifying label and the reason.
    pub failures: Vec<String>,
}

/// What [`Store::link_subjects`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Linked {
    /// The two are one data subject now: `moved` records of the joining subject were moved to the person;
    /// in `dropped` namespaces the person's own record won over one the joining subject had under the same id.
    Done {
        /// Records moved.
        moved: u64,
        /// Namespaces where the joining subject's record gave way to the person's.
        dropped: Vec<String>,
    },
    /// They were one subject already.
    Already,
    /// The joining subject is part of another person; it must be unlinked from it first.
    Elsewhere,
    /// Both hold records under the same ids in these namespaces, which cannot be merged; nothing changed.
    Conflicts(Vec<String>),
}

/// The state store every part of the framework uses.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Writes a record, replacing any previous value.
    async fn put(&self, key: RecordKey<'_>, value: &[u8], durability: Durability) -> Result<(), StoreError>;

    /// Writes a record only if none is stored under its key, atomically — also between processes sharing
    /// one store (replicas on Redis): of two racing writers exactly one gets `true`. For claims: a delivery
    /// seen, a code used, a job taken.
    async fn create(&self, key: RecordKey<'_>, value: &[u8], durability: Durability) -> Result<bool, StoreError>;

    /// Replaces a record only if it still is what `current` was read as (`None`: only if there is none),
    /// atomically — also between processes sharing one store. `new = None` deletes it. Returns whether it
    /// was replaced; `false` means someone changed it since it was read (read it again and decide again).
    /// For state several processes update: leases, queues of turns.
    async fn swap(
        &self,
        key: RecordKey<'_>,
        current: Option<&Record>,
        new: Option<&[u8]>,
        durability: Durability,
    ) -> Result<bool, StoreError>;

    /// Reads a record. A record that exists but cannot be read is an error for that record only.
    async fn get(&self, key: RecordKey<'_>) -> Result<Option<Record>, StoreError>;

    /// Deletes a record; returns whether it existed.
    async fn delete(&self, key: RecordKey<'_>, durability: Durability) -> Result<bool, StoreError>;

    /// Seals `value` under the data key of `subject`, bound to `namespace` and `context`, for keeping inside
    /// a record about no one that holds several people's values (the journal's batch of accepted events):
    /// each part stays readable only while its person's data key exists, so erasing a person shreds their
    /// part as it shreds their records. The part is opaque; [`Store::open_part`] reads it back.
    async fn seal_part(
        &self,
        namespace: &str,
        subject: &Subject,
        context: &[u8],
        value: &[u8],
    ) -> Result<Vec<u8>, StoreError>;

    /// Opens a part [`Store::seal_part`] made for `namespace` and `context`: an error when it was made for
    /// another place, was altered, or its person was erased since.
    async fn open_part(&self, namespace: &str, context: &[u8], part: &[u8]) -> Result<Zeroizing<Vec<u8>>, StoreError>;

    /// Every readable record in a namespace for one subject (or for no subject), in id order. Unreadable records are
    /// logged (without content) and skipped, so one bad record never hides the others.
    async fn list(&self, namespace: &str, subject: Option<&Subject>) -> Result<Vec<Record>, StoreError>;

    /// Every readable record in a namespace regardless of subject; for sweeps.
    async fn scan(&self, namespace: &str) -> Result<Vec<Record>, StoreError>;

    /// Deletes every record about `subject` in every namespace, flushed; returns how many.
    async fn erase_subject(&self, subject: &Subject) -> Result<u64, StoreError>;

    /// Deletes every record in `namespace` written before `cutoff_ms`; returns how many (retention).
    async fn sweep_older_than(&self, namespace: &str, cutoff_ms: u64) -> Result<u64, StoreError>;

    /// Deletes records that can never be read again because their subject's data key is gone (left behind
    /// by an interrupted erasure); returns how many.
    async fn purge_orphans(&self) -> Result<u64, StoreError>;

    /// How many data subjects have a data key.
    async fn subject_count(&self) -> Result<u64, StoreError>;

    /// Per-namespace counts, opening every record.
    async fn stats(&self) -> Result<Vec<NamespaceStats>, StoreError>;

    /// A keyed BLAKE2b-256 of `data` under a key derived for `purpose` from the store's own (rotation-stable)
    /// keys: pseudonyms and MACs for callers that must not hold key material (the audit trail).
    fn keyed_hash(&self, purpose: &str, data: &[u8]) -> Result<[u8; 32], StoreError>;

    /// Persists everything written so far.
    async fn flush(&self) -> Result<(), StoreError>;

    /// Persists everything written so far, as [`Store::flush`] does, for a caller that flushes many times a
    /// second (the journal, once per batch of accepted events): the writes are as durable when it returns,
    /// but a store with an anchor (which notices lost writes) may record them there a moment later, and
    /// records many such flushes with one write. The default is [`Store::flush`].
    async fn flush_anchor_later(&self) -> Result<(), StoreError> {
        self.flush().await
    }

    /// Notes the audit trail's new head (`seq`, its MAC in hex) so the store's anchor, kept outside the
    /// store's own files, records it with the next flushed write. Stores without an anchor ignore it.
    fn note_audit_head(&self, seq: u64, mac: &str) {
        let _ = (seq, mac);
    }

    /// The audit head the store's anchor recorded when the store was opened (`None` without an anchor, or
    /// before any audit entry was anchored).
    fn anchored_audit_head(&self) -> Option<(u64, String)> {
        None
    }

    /// Makes `joining` part of the person `to` is (one person across platforms): from then on every
    /// operation on either subject acts on the same records, under one data key. The joining subject's
    /// records move to the person; where both hold a record under the same id, the person's wins in the
    /// namespaces `person_wins` accepts, and anywhere else nothing changes ([`Linked::Conflicts`]).
    /// Erasing any linked subject erases the person. Stores that cannot link say so with an error.
    async fn link_subjects(
        &self,
        joining: &Subject,
        to: &Subject,
        person_wins: &(dyn for<'n> Fn(&'n str) -> bool + Send + Sync),
    ) -> Result<Linked, StoreError> {
        let _ = (joining, to, person_wins);
        Err(StoreError::Backend {
            op: "link",
            namespace: "*".into(),
            reason: "this store cannot link data subjects".into(),
        })
    }

    /// Splits `subject` from its person: it is a subject of its own again, starting empty (the person keeps
    /// the records). Returns whether it was linked.
    async fn unlink_subject(&self, subject: &Subject) -> Result<bool, StoreError> {
        let _ = subject;
        Ok(false)
    }

    /// Reads again what the store keeps in memory of state other processes sharing it may change (which
    /// identities are linked). Replicas on one shared backend call it every few seconds; a store only this
    /// process uses has nothing to read again.
    async fn refresh(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Whether other processes use this store at the same time (replicas on one Redis): what one process
    /// keeps in memory (locks, queues, grants) then holds for that process only.
    fn shared(&self) -> bool {
        false
    }

    /// Whether `subject` is linked to a person (cheap: for checks on every event).
    fn is_linked(&self, subject: &Subject) -> bool {
        let _ = subject;
        false
    }

    /// A stable pseudonymous id of the person `subject` belongs to (the same for every linked subject): for
    /// locks and comparisons, never for display.
    fn person_id(&self, subject: &Subject) -> [u8; 32] {
        let mut id = [0u8; 32];
        for (i, b) in subject.as_str().bytes().enumerate() {
            id[i % 32] ^= b.rotate_left((i / 32) as u32);
        }
        id
    }
}

/// Shared store handle.
pub type SharedStore = Arc<dyn Store>;
