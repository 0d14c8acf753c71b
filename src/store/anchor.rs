//! The store's anchor: a small MACed file beside the backend's files that remembers how many flushed writes
//! the store confirmed, and where the audit trail's head was. The store keeps the same write counter inside
//! itself; when its files lose writes (a flipped bit or a cut file makes sled drop its last log segments, or
//! the directory is replaced by an older copy), the store's counter falls behind the anchor's and the store
//! refuses to open, saying what happened and what to do, instead of quietly running on with less.
//!
//! Every flushed write goes: data into the backend, the counter into the backend, the backend flushed, then
//! the anchor written. A crash in between leaves the store *ahead* of its anchor, which is fine; only
//! *behind* means loss. Concurrent flushed writes share one anchor write (whoever holds the lock covers every
//! write counted so far).
//!
//! Flushes made many times a second (the journal's, once per batch of accepted events) do not wait for the
//! file ([`Store::flush_anchor_later`]): the flush is counted and the counter goes into the backend with the
//! flush, as always, and a task writes the file afterwards — at once if it was last written more than
//! [`TRAIL`] ago, else then, one write covering every flush the backend holds by then (the task holds only the
//! anchor, so a store closed meanwhile is not kept open). Under a stream of such flushes the file is
//! written at most once per [`TRAIL`] instead of once per flush, and an idle bot's replies do not wait for
//! it. The price: the anchor trails those flushes by up to [`TRAIL`] and one file write, so a loss of only
//! the writes of that last moment is not noticed. Writes made with [`Durability::Flushed`] and
//! [`Store::flush`] wait for the anchor as before.
//!
//! [`Store::flush_anchor_later`]: crate::store::Store::flush_anchor_later
//! [`Store::flush`]: crate::store::Store::flush
//! [`Durability::Flushed`]: crate::store::Durability::Flushed
//!
//! The file holds two slots of [`SLOT`] bytes, each a complete MACed state with a generation number. The
//! first write after the store opens replaces the whole file atomically (written aside, synced, renamed,
//! directory synced), both slots alike; every later write overwrites the older slot in place and syncs its
//! data: one sync instead of two, no new file and no rename, on the blocking pool rather than the runtime's
//! threads. A write torn by a crash spoils only the slot being written; the reader takes the valid slot with
//! the highest generation, which is never ahead of the store. Files written in the earlier single-document
//! form are read as they are and replaced at the next write.
//!
//! Limits: the anchor is MACed with a key derived from the master key, so it cannot be forged, but a whole
//! older copy of the directory *with its anchor* is consistent and opens. Against that, keep the audit
//! sequence number elsewhere too (it is in every log line of an append at info) and check it with
//! `palisade audit verify --expect-seq N`, or put `[store] anchor_file` on another volume.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::crypto::{Key, ct_eq, hex};

/// The single-document form, read for files written before slots.
const VERSION_V1: u8 = 1;
/// The two-slot form.
const VERSION: u8 = 2;
/// Bytes per slot: a JSON document padded with spaces, ending in a newline.
pub const SLOT: usize = 512;
/// How long the file may trail flushes that do not wait for it ([`crate::store::Store::flush_anchor_later`]):
/// under a stream of them it is written at most once per this long, each write covering all of them.
pub const TRAIL: std::time::Duration = std::time::Duration::from_millis(50);
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
    /// Which write this is since the store opened (two-slot form): the reader takes the highest valid one.
    #[serde(default)]
    generation: u64,
}

impl OnDisk {
    fn state(&self) -> AnchorState {
        AnchorState { writes: self.writes, audit_seq: self.audit_seq, audit_head: self.audit_head.clone() }
    }

    /// Whether `key` made the MAC (of the state, and in the two-slot form of the generation too).
    fn verified(&self, key: &Key) -> bool {
        let expected = match self.version {
            VERSION_V1 => hex(&key.hash(&canonical(VERSION_V1, &self.state()))),
            VERSION => hex(&key.hash(&signed(&self.state(), self.generation))),
            _ => return false,
        };
        ct_eq(expected.as_bytes(), self.mac.as_bytes())
    }
}

/// The documents in an anchor file: two slots, or one document in the earlier form (a file of another length,
/// edited by hand say, is read line by line). Damaged slots are left out.
fn documents(bytes: &[u8]) -> Vec<OnDisk> {
    let parse = |doc: &[u8]| serde_json::from_slice::<OnDisk>(doc.trim_ascii()).ok();
    if bytes.len() == 2 * SLOT {
        bytes.chunks(SLOT).filter_map(parse).collect()
    } else {
        bytes.split(|b| *b == b'\n').filter(|line| !line.trim_ascii().is_empty()).filter_map(parse).collect()
    }
}

/// The file's bytes for `docs`: one document in the earlier form as it was, slots otherwise (a single slot
/// written to both).
fn render(docs: &[OnDisk]) -> Result<Vec<u8>, String> {
    match docs {
        [one] if one.version == VERSION_V1 => serde_json::to_vec(one).map_err(|e| e.to_string()),
        [one] => Ok([slot(one)?, slot(one)?].concat()),
        [a, b, ..] => Ok([slot(a)?, slot(b)?].concat()),
        [] => Err("no document".into()),
    }
}

/// One slot: the document padded to [`SLOT`] bytes.
fn slot(doc: &OnDisk) -> Result<Vec<u8>, String> {
    let mut bytes = serde_json::to_vec(doc).map_err(|e| e.to_string())?;
    if bytes.len() >= SLOT {
        return Err(format!("an anchor document of {} bytes does not fit a slot of {SLOT}", bytes.len()));
    }
    bytes.resize(SLOT - 1, b' ');
    bytes.push(b'\n');
    Ok(bytes)
}

/// The master key ids the anchor file at `path` names; `None` when there is no readable anchor (the store's
/// own key check then decides). Read without its MAC: a wrong id can only make the store refuse to open.
pub fn key_ids(path: &Path) -> Option<Vec<String>> {
    let latest = documents(&std::fs::read(path).ok()?).into_iter().max_by_key(|d| d.generation)?;
    Some(latest.key_ids).filter(|ids| !ids.is_empty())
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
    let mut docs = documents(&bytes);
    if docs.is_empty() {
        return Err(fail("is damaged (not an anchor)".into()));
    }
    if docs.iter().all(|d| d.key_ids.is_empty() || d.key_ids.iter().any(|k| k == id)) {
        return Ok(());
    }
    for doc in docs.iter_mut().filter(|d| !d.key_ids.is_empty()) {
        doc.key_ids.push(id.to_string());
    }
    let bytes = render(&docs).map_err(fail)?;
    crate::private_file::replace_private(path, &bytes).map_err(|e| fail(e.to_string()))
}

fn canonical(version: u8, state: &AnchorState) -> Vec<u8> {
    let mut out = vec![version];
    out.extend_from_slice(&state.writes.to_be_bytes());
    out.extend_from_slice(&state.audit_seq.to_be_bytes());
    out.extend_from_slice(state.audit_head.as_bytes());
    out
}

/// What the MAC of a slot covers: the state and the slot's generation.
fn signed(state: &AnchorState, generation: u64) -> Vec<u8> {
    let mut out = canonical(VERSION, state);
    out.extend_from_slice(&generation.to_be_bytes());
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
    /// The file, open for writing in place once this anchor replaced it (`None` before its first write).
    file: Mutex<Option<Arc<std::fs::File>>>,
    /// Writes of the file by this anchor so far: the next one's generation.
    generation: AtomicU64,
    /// Writes of the file left to a later moment ([`Anchor::trail`]).
    trail: Mutex<Trail>,
    /// What the backend holds flushed for those: the latest state a later write of the file may record.
    flushed: Mutex<AnchorState>,
    /// The highest counter put into the backend: counters go in under it, never lower than the last.
    counter: tokio::sync::Mutex<u64>,
}

/// The anchor's writes left to a later moment.
#[derive(Default)]
struct Trail {
    /// Whether a write is already planned (it covers every flush counted by the time it is made).
    planned: bool,
    /// When the file was last written (or a planned write began).
    last: Option<tokio::time::Instant>,
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
        let docs = documents(&bytes);
        if docs.is_empty() {
            return Err(unreadable(path, &format!("{} is damaged (not an anchor)", path.display())));
        }
        match docs.into_iter().filter(|d| d.verified(key)).max_by_key(|d| d.generation) {
            Some(latest) => Ok(Some(latest.state())),
            None => Err(unreadable(path, &format!("{} was not written with this key or was altered", path.display()))),
        }
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
            flushed: Mutex::new(state.clone()),
            written: Mutex::new(state),
            audit: Mutex::new(audit),
            lock: tokio::sync::Mutex::new(()),
            file: Mutex::new(None),
            generation: AtomicU64::new(0),
            trail: Mutex::default(),
            counter: tokio::sync::Mutex::new(0),
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

    /// How many times this anchor has written its file.
    pub fn file_writes(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
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

    /// Plans a write of the file for flushes that do not wait for it: `Some(when)` if none is planned yet
    /// ([`TRAIL`] after the last write, or now if that is past), `None` if one is (it covers them too).
    pub(super) fn trail(&self) -> Option<tokio::time::Instant> {
        let mut trail = self.trail.lock().unwrap_or_else(PoisonError::into_inner);
        if trail.planned {
            return None;
        }
        trail.planned = true;
        let now = tokio::time::Instant::now();
        Some(trail.last.map_or(now, |last| (last + TRAIL).max(now)))
    }

    /// The planned write is being made: flushes counted from now on plan the next one, [`TRAIL`] from now.
    pub(super) fn trail_taken(&self) {
        let mut trail = self.trail.lock().unwrap_or_else(PoisonError::into_inner);
        trail.planned = false;
        trail.last = Some(tokio::time::Instant::now());
    }

    /// The state to write for `writes` flushed writes: with the audit head noted so far. Taken before the
    /// flush that makes them durable, so the head's entry (written before it was noted) is among them.
    pub(super) fn to_write(&self, writes: u64) -> AnchorState {
        let (audit_seq, audit_head) = self.audit.lock().unwrap_or_else(PoisonError::into_inner).clone();
        AnchorState { writes, audit_seq, audit_head }
    }

    /// Notes that the backend holds `state` flushed (its counter, and the audit head's entry).
    pub(super) fn note_flushed(&self, state: AnchorState) {
        let mut flushed = self.flushed.lock().unwrap_or_else(PoisonError::into_inner);
        if state.writes > flushed.writes {
            *flushed = state;
        }
    }

    /// The latest state the backend holds flushed.
    pub(super) fn flushed(&self) -> AnchorState {
        self.flushed.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The highest counter put into the backend, locked while another goes in.
    pub(super) async fn counter(&self) -> tokio::sync::MutexGuard<'_, u64> {
        self.counter.lock().await
    }

    /// Takes the lock for writing; returns `None` when write `n` is already covered by the file.
    pub(super) async fn begin(&self, n: u64) -> Option<(tokio::sync::MutexGuard<'_, ()>, u64)> {
        let guard = self.lock.lock().await;
        if self.state().writes >= n {
            return None;
        }
        Some((guard, self.counted.load(Ordering::SeqCst)))
    }

    /// Writes `writes` and the noted audit head to the file.
    #[cfg(test)]
    async fn write(&self, writes: u64) -> Result<(), StoreError> {
        self.write_state(self.to_write(writes)).await
    }

    /// Writes `state` to the file (the caller holds the lock from [`Anchor::begin`], and the backend holds
    /// `state` flushed): the whole file the first time, one slot in place after that, on the blocking pool.
    pub(super) async fn write_state(&self, state: AnchorState) -> Result<(), StoreError> {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst);
        let doc = OnDisk {
            version: VERSION,
            writes: state.writes,
            audit_seq: state.audit_seq,
            audit_head: state.audit_head.clone(),
            mac: hex(&self.key.hash(&signed(&state, generation))),
            key_ids: vec![self.key_id.clone()],
            generation,
        };
        let failed = |reason: String| StoreError::Backend {
            op: "anchor write",
            namespace: TREE.into(),
            reason: format!("{}: {reason}", self.path.display()),
        };
        let bytes = slot(&doc).map_err(failed)?;
        let open = self.file.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let path = self.path.clone();
        let file = tokio::task::spawn_blocking(move || write_file(&path, open, &bytes, generation))
            .await
            .map_err(|e| failed(e.to_string()))?
            .map_err(|e| failed(e.to_string()))?;
        *self.file.lock().unwrap_or_else(PoisonError::into_inner) = Some(file);
        *self.written.lock().unwrap_or_else(PoisonError::into_inner) = state;
        self.trail.lock().unwrap_or_else(PoisonError::into_inner).last = Some(tokio::time::Instant::now());
        Ok(())
    }
}

/// Writes one slot's `bytes` of generation `generation`: into the older slot of `open` in place, or, before the
/// file is open, as the whole new file with both slots alike (written aside, synced, renamed, the directory
/// synced). Returns the open file. Public for the store benchmark, which times both ways.
///
/// # Errors
/// When the file cannot be written or synced.
pub fn write_file(
    path: &Path,
    open: Option<Arc<std::fs::File>>,
    bytes: &[u8],
    generation: u64,
) -> std::io::Result<Arc<std::fs::File>> {
    use std::io::{Seek, SeekFrom, Write};
    if let Some(file) = open {
        let at = (generation % 2) * SLOT as u64;
        (&*file).seek(SeekFrom::Start(at))?;
        (&*file).write_all(bytes)?;
        file.sync_data()?;
        return Ok(file);
    }
    crate::private_file::replace_private(path, &[bytes, bytes].concat())?;
    Ok(Arc::new(std::fs::OpenOptions::new().write(true).open(path)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key::from_bytes(&[3u8; 32]).unwrap_or_else(|_| unreachable!())
    }

    #[tokio::test]
    async fn the_counter_and_the_file_open_only_unaltered_and_with_their_key() {
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
        anchor.write(12).await.unwrap_or_else(|e| panic!("{e}"));
        let read = Anchor::read(&path, &key()).ok().flatten();
        assert_eq!(read, Some(AnchorState { writes: 12, audit_seq: 7, audit_head: "abcd".into() }));
        let other = Key::from_bytes(&[4u8; 32]).unwrap_or_else(|_| unreachable!());
        assert!(Anchor::read(&path, &other).is_err(), "another key's anchor is refused");
        let text = std::fs::read_to_string(&path).unwrap_or_default().replace("12", "13");
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        let refused = Anchor::read(&path, &key()).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(refused.contains("altered") && refused.contains("accept-loss"), "{refused}");
    }

    fn state(writes: u64) -> AnchorState {
        AnchorState { writes, audit_seq: 0, audit_head: String::new() }
    }

    #[cfg(unix)]
    fn inode(path: &Path) -> u64 {
        std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(path).unwrap_or_else(|e| panic!("{e}")))
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn later_writes_go_to_the_older_slot_in_place_and_a_torn_slot_falls_back_to_the_other() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("palisade.anchor");
        let anchor = Anchor::new(path.clone(), key(), AnchorState::default(), "0011223344556677".into());
        anchor.write(12).await.unwrap_or_else(|e| panic!("{e}"));
        let replaced = inode(&path);
        anchor.write(13).await.unwrap_or_else(|e| panic!("{e}"));
        anchor.write(14).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(inode(&path), replaced, "after the first write the file is written in place");
        assert_eq!(std::fs::metadata(&path).map(|m| m.len()).ok(), Some(2 * SLOT as u64));
        assert_eq!(Anchor::read(&path, &key()).ok().flatten(), Some(state(14)));

        // A crash in the middle of writing 14 (slot 0, generation 2) leaves 13, never more than was flushed.
        let mut bytes = std::fs::read(&path).unwrap_or_default();
        bytes[40..SLOT / 2].fill(b'#');
        std::fs::write(&path, &bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Anchor::read(&path, &key()).ok().flatten(), Some(state(13)));
        assert_eq!(key_ids(&path), Some(vec!["0011223344556677".to_string()]));

        // Both slots torn: damaged, with what to do.
        bytes[SLOT + 40..SLOT + SLOT / 2].fill(b'#');
        std::fs::write(&path, &bytes).unwrap_or_else(|e| panic!("{e}"));
        let damaged = Anchor::read(&path, &key()).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(damaged.contains("is damaged") && damaged.contains("accept-loss"), "{damaged}");
    }

    #[tokio::test]
    async fn a_file_in_the_single_document_form_is_read_and_replaced_at_the_next_write() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("palisade.anchor");
        let old = state(30);
        // Exactly the fields the earlier form had: no generation.
        let v1 = serde_json::json!({
            "version": VERSION_V1,
            "writes": 30,
            "audit_seq": 0,
            "audit_head": "",
            "mac": hex(&key().hash(&canonical(VERSION_V1, &old))),
            "key_ids": ["aaaaaaaaaaaaaaaa"],
        })
        .to_string();
        std::fs::write(&path, &v1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Anchor::read(&path, &key()).ok().flatten(), Some(old.clone()));
        allow_key(&path, "bbbbbbbbbbbbbbbb").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(key_ids(&path), Some(vec!["aaaaaaaaaaaaaaaa".into(), "bbbbbbbbbbbbbbbb".into()]));
        assert_eq!(Anchor::read(&path, &key()).ok().flatten(), Some(old), "adding a key keeps the MAC valid");

        let anchor = Anchor::new(path.clone(), key(), state(30), "bbbbbbbbbbbbbbbb".into());
        anchor.write(31).await.unwrap_or_else(|e| panic!("{e}"));
        anchor.write(32).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Anchor::read(&path, &key()).ok().flatten(), Some(state(32)));
        allow_key(&path, "cccccccccccccccc").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(key_ids(&path), Some(vec!["bbbbbbbbbbbbbbbb".into(), "cccccccccccccccc".into()]));
        assert_eq!(Anchor::read(&path, &key()).ok().flatten(), Some(state(32)), "both slots keep their MACs");
    }
}
