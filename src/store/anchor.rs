//! The store's anchor: a small MACed file beside the backend's files that remembers how many flushed writes
//! the store confirmed, and where the audit trail's head was. The store keeps the same write counter inside
//! itself; when its files lose writes (a flipped bit or a cut file makes sled drop its last log segments, or
//! the directory is replaced by an older copy), the store's counter falls behind the anchor's and the store
//! refuses to open, saying what happened and what to do, instead of quietly running on with less.
//!
//! Every flushed write goes: data into the backend, the counter into the backend, the backend flushed, then
//! the anchor replaced atomically (written aside, synced, renamed, directory synced). A crash in between
//! leaves the store *ahead* of its anchor, which is fine; only *behind* means loss. Concurrent flushed writes
//! share one anchor write (whoever holds the lock covers every write counted so far).
//!
//! Limits: the anchor is MACed with a key derived from the master key, so it cannot be forged, but a whole
//! older copy of the directory *with its anchor* is consistent and opens. Against that, keep the audit
//! sequence number elsewhere too (it is in every log line of an append at info) and check it with
//! `palisade audit verify --expect-seq N`, or put `[store] anchor_file` on another volume.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::crypto::{Key, ct_eq, hex};

const VERSION: u8 = 1;
/// Where the store keeps its own copy of the counter (a reserved tree, not a namespace).
pub(super) const TREE: &str = "_anchor";
pub(super) const COUNTER: &[u8] = b"writes";

/// What the anchor holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnchorState {
    /// Flushed writes the store confirmed.
    pub writes: u64,
    /// The audit trail's last sequence number (0: not known yet).
    pub audit_seq: u64,
    /// The MAC of that entry (hex), empty when not known.
    pub audit_head: String,
}

#[derive(Serialize, Deserialize)]
struct OnDisk {
    version: u8,
    writes: u64,
    audit_seq: u64,
    audit_head: String,
    mac: String,
    /// Which master keys may open the store (ids derived from them, as in the keyring): checked before the
    /// database is opened at all, because opening it rewrites its files. Two during a key rotation.
    #[serde(default)]
    key_ids: Vec<String>,
}

/// The master key ids the anchor file at `path` names; `None` when there is no readable anchor (the store's
/// own key check then decides). Read without its MAC: a wrong id can only make the store refuse to open.
pub fn key_ids(path: &Path) -> Option<Vec<String>> {
    let disk: OnDisk = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    Some(disk.key_ids).filter(|ids| !ids.is_empty())
}

/// Adds `id` to the master keys the anchor file at `path` accepts (before a rotation to that key).
///
/// # Errors
/// When the file cannot be read or written.
pub fn allow_key(path: &Path, id: &str) -> Result<(), StoreError> {
    let fail = |e: String| unreadable(path, &format!("{}: {e}", path.display()));
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(fail(e.to_string())),
    };
    let mut disk: OnDisk = serde_json::from_slice(&bytes).map_err(|e| fail(e.to_string()))?;
    if disk.key_ids.is_empty() || disk.key_ids.iter().any(|k| k == id) {
        return Ok(());
    }
    disk.key_ids.push(id.to_string());
    let bytes = serde_json::to_vec(&disk).map_err(|e| fail(e.to_string()))?;
    crate::private_file::replace_private(path, &bytes).map_err(|e| fail(e.to_string()))
}

fn canonical(state: &AnchorState) -> Vec<u8> {
    let mut out = vec![VERSION];
    out.extend_from_slice(&state.writes.to_be_bytes());
    out.extend_from_slice(&state.audit_seq.to_be_bytes());
    out.extend_from_slice(state.audit_head.as_bytes());
    out
}

/// The anchor file of one store.
pub struct Anchor {
    path: PathBuf,
    key: Key,
    /// The id of the master key the store is open with.
    key_id: String,
    /// What was last written to the file.
    written: Mutex<AnchorState>,
    /// The audit head to write with the next anchor write.
    audit: Mutex<(u64, String)>,
    /// Writes counted so far (each flushed write takes the next number).
    counted: AtomicU64,
    /// Serialises anchor writes (the counter record, the flush and the file go together).
    lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Anchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Anchor").field("path", &self.path).finish_non_exhaustive()
    }
}

fn unreadable(path: &Path, why: &str) -> StoreError {
    StoreError::Open {
        path: path.display().to_string(),
        reason: format!(
            "its anchor file {why}. Restore the data directory (with its anchor) from a backup, or run `palisade store accept-loss` to go on knowingly (audited)"
        ),
    }
}

impl Anchor {
    /// The counter value and MAC as the store keeps them (`n ‖ MAC(n)`).
    pub(super) fn seal_counter(key: &Key, n: u64) -> Vec<u8> {
        let mut value = n.to_be_bytes().to_vec();
        value.extend_from_slice(&key.hash(&n.to_be_bytes()));
        value
    }

    /// Reads the counter the store keeps; `None` when it has none (a new store, or one from before anchors).
    pub(super) fn open_counter(key: &Key, value: &[u8]) -> Option<u64> {
        let (n, mac) = value.split_at_checked(8)?;
        let n: [u8; 8] = n.try_into().ok()?;
        ct_eq(mac, &key.hash(&n)).then_some(u64::from_be_bytes(n))
    }

    /// Reads the anchor at `path`. `Ok(None)` when there is no file.
    pub fn read(path: &Path, key: &Key) -> Result<Option<AnchorState>, StoreError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(unreadable(path, &format!("{} cannot be read ({e})", path.display()))),
        };
        let disk: OnDisk = serde_json::from_slice(&bytes)
            .map_err(|_| unreadable(path, &format!("{} is damaged (not an anchor)", path.display())))?;
        let state = AnchorState { writes: disk.writes, audit_seq: disk.audit_seq, audit_head: disk.audit_head };
        let expected = hex(&key.hash(&canonical(&state)));
        if disk.version != VERSION || !ct_eq(expected.as_bytes(), disk.mac.as_bytes()) {
            return Err(unreadable(path, &format!("{} was not written with this key or was altered", path.display())));
        }
        Ok(Some(state))
    }

    /// The anchor at `path`, whose last written state is `state`, keyed with `key` (derived from the master
    /// key for this purpose only).
    /// `key_id` names the master key the store is open with ([`super::key_id`]).
    pub fn new(path: PathBuf, key: Key, state: AnchorState, key_id: String) -> Self {
        let audit = (state.audit_seq, state.audit_head.clone());
        Self {
            path,
            key,
            key_id,
            counted: AtomicU64::new(state.writes),
            written: Mutex::new(state),
            audit: Mutex::new(audit),
            lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The key the counter and the file are MACed with.
    pub(super) fn key(&self) -> &Key {
        &self.key
    }

    /// What the file holds now.
    pub fn state(&self) -> AnchorState {
        self.written.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Notes the audit trail's new head; it is written with the next flushed write (the head's own).
    pub fn note_audit_head(&self, seq: u64, mac: &str) {
        *self.audit.lock().unwrap_or_else(PoisonError::into_inner) = (seq, mac.to_string());
    }

    /// Counts one flushed write; returns its number.
    pub(super) fn count(&self) -> u64 {
        self.counted.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Writes counted so far.
    pub(super) fn counted(&self) -> u64 {
        self.counted.load(Ordering::SeqCst)
    }

    /// Takes the lock for writing.
    pub(super) async fn lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.lock.lock().await
    }

    /// Takes the lock for writing; returns `None` when write `n` is already covered by the file.
    pub(super) async fn begin(&self, n: u64) -> Option<(tokio::sync::MutexGuard<'_, ()>, u64)> {
        let guard = self.lock.lock().await;
        if self.state().writes >= n {
            return None;
        }
        Some((guard, self.counted.load(Ordering::SeqCst)))
    }

    /// Replaces the file with `writes` and the noted audit head (the caller holds the lock from
    /// [`Anchor::begin`] and flushed the store's counter first).
    pub(super) fn write(&self, writes: u64) -> Result<(), StoreError> {
        let (audit_seq, audit_head) = self.audit.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let state = AnchorState { writes, audit_seq, audit_head };
        let disk = OnDisk {
            version: VERSION,
            writes: state.writes,
            audit_seq: state.audit_seq,
            audit_head: state.audit_head.clone(),
            mac: hex(&self.key.hash(&canonical(&state))),
            key_ids: vec![self.key_id.clone()],
        };
        let bytes = serde_json::to_vec(&disk).map_err(|e| StoreError::Backend {
            op: "anchor",
            namespace: TREE.into(),
            reason: e.to_string(),
        })?;
        crate::private_file::replace_private(&self.path, &bytes).map_err(|e| StoreError::Backend {
            op: "anchor write",
            namespace: TREE.into(),
            reason: format!("{}: {e}", self.path.display()),
        })?;
        *self.written.lock().unwrap_or_else(PoisonError::into_inner) = state;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key::from_bytes(&[3u8; 32]).unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn the_counter_and_the_file_open_only_unaltered_and_with_their_key() {
        let sealed = Anchor::seal_counter(&key(), 41);
        assert_eq!(Anchor::open_counter(&key(), &sealed), Some(41));
        let mut bumped = sealed.clone();
        bumped[7] = 99;
        assert_eq!(Anchor::open_counter(&key(), &bumped), None, "a counter raised by hand is refused");

        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("palisade.anchor");
        assert_eq!(Anchor::read(&path, &key()).ok(), Some(None));
        let anchor = Anchor::new(path.clone(), key(), AnchorState::default(), "0011223344556677".into());
        anchor.note_audit_head(7, "abcd");
        anchor.write(12).unwrap_or_else(|e| panic!("{e}"));
        let read = Anchor::read(&path, &key()).ok().flatten();
        assert_eq!(read, Some(AnchorState { writes: 12, audit_seq: 7, audit_head: "abcd".into() }));
        let other = Key::from_bytes(&[4u8; 32]).unwrap_or_else(|_| unreachable!());
        assert!(Anchor::read(&path, &other).is_err(), "another key's anchor is refused");
        let text = std::fs::read_to_string(&path).unwrap_or_default().replace("12", "13");
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        let refused = Anchor::read(&path, &key()).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(refused.contains("altered") && refused.contains("accept-loss"), "{refused}");
    }
}
