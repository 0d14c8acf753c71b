//! The [`Store`] implementation: records sealed with their subject's data key, under pseudonymous keys, in
//! one backend tree per namespace. See [`super::layout`] for the bytes and [`super::keyring`] for the keys.

use std::sync::Arc;

use async_trait::async_trait;

use super::anchor::{Anchor, AnchorState};
use super::backend::Backend;
use super::check_namespace;
use super::keyring::Keyring;
use super::layout;
use super::{Durability, Linked, NamespaceStats, Record, RecordKey, Store, StoreError, Subject};

/// Which subjects a link joins: `joining` into `to`'s person (`None`: `to` stands alone, a new person is
/// made for both).
struct LinkPlan {
    joining: [u8; layout::HASH_LEN],
    to: [u8; layout::HASH_LEN],
    person: Option<[u8; layout::HASH_LEN]>,
}
use crate::clock::SharedClock;
use crate::crypto::Key;
use zeroize::Zeroizing;

/// Encrypted records over any [`Backend`].
pub struct RecordStore {
    backend: Arc<dyn Backend>,
    keys: Keyring,
    clock: SharedClock,
    anchor: Option<Arc<Anchor>>,
    /// The audit head the anchor held at open.
    anchored_audit: Option<(u64, String)>,
    /// Writers share it; a backup takes it alone, so it copies one moment of the store.
    gate: tokio::sync::RwLock<()>,
    /// Subjects' pseudonyms, each computed once.
    pseudonyms: super::memo::Memo,
    /// Records' hashed ids, each computed once.
    ids: super::memo::Memo,
}

/// What `palisade store accept-loss` accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcceptedLoss {
    /// What the anchor said before (`None`: it was missing or unreadable).
    pub anchored: Option<AnchorState>,
    /// Flushed writes the store holds.
    pub stored: u64,
}

/// The purpose the anchor's MAC key is derived for.
const ANCHOR_PURPOSE: &str = "palisade/store-anchor/v1";

impl std::fmt::Debug for RecordStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordStore").finish_non_exhaustive()
    }
}

impl RecordStore {
    /// Opens the store in `backend` with `master`, creating its keyring if the backend is empty. Refuses a
    /// wrong key ([`StoreError::WrongKey`]) and a store whose key rotation was interrupted.
    pub async fn open(backend: Arc<dyn Backend>, master: &Key, clock: SharedClock) -> Result<Self, StoreError> {
        let keys = Keyring::open(backend.clone(), master).await?;
        Ok(Self {
            backend,
            keys,
            clock,
            anchor: None,
            anchored_audit: None,
            gate: tokio::sync::RwLock::new(()),
            pseudonyms: Default::default(),
            ids: Default::default(),
        })
    }

    /// Like [`RecordStore::open`], with the anchor file at `anchor`: a store that
    /// holds fewer flushed writes than its anchor recorded is refused ([`StoreError::LostWrites`]), and so is
    /// an anchored store whose anchor file is missing or altered.
    pub async fn open_anchored(
        backend: Arc<dyn Backend>,
        master: &Key,
        clock: SharedClock,
        anchor: &std::path::Path,
    ) -> Result<Self, StoreError> {
        Self::anchored(backend, master, clock, anchor, false).await.map(|(store, _)| store)
    }

    /// Opens a store that is behind its anchor (or lost it) as it is, and re-anchors it there: what
    /// `palisade store accept-loss` does after the operator chose to go on without a backup.
    pub async fn accept_loss(
        backend: Arc<dyn Backend>,
        master: &Key,
        clock: SharedClock,
        anchor: &std::path::Path,
    ) -> Result<(Self, AcceptedLoss), StoreError> {
        Self::anchored(backend, master, clock, anchor, true).await
    }

    async fn anchored(
        backend: Arc<dyn Backend>,
        master: &Key,
        clock: SharedClock,
        path: &std::path::Path,
        accept: bool,
    ) -> Result<(Self, AcceptedLoss), StoreError> {
        let keys = Keyring::open(backend.clone(), master).await?;
        let key = keys.index.derive(ANCHOR_PURPOSE).map_err(|e| StoreError::MasterKey(e.to_string()))?;
        let shown = path.display().to_string();
        let stored = match backend.get(super::anchor::TREE, super::anchor::COUNTER).await? {
            None => None,
            Some(value) => match Anchor::open_counter(&key, &value) {
                Some(n) => Some(n),
                None if accept => Some(0),
                None => {
                    return Err(StoreError::Open {
                        path: shown,
                        reason: "its write counter was altered. Restore the data directory from a backup, or run `palisade store accept-loss` to go on knowingly (audited)".into(),
                    });
                }
            },
        };
        let file = match Anchor::read(path, &key) {
            Err(_) if accept => None,
            other => other?,
        };
        let writes = stored.unwrap_or(0);
        let state = match (&file, stored) {
            (None, Some(_)) if !accept => {
                return Err(StoreError::Open {
                    path: shown,
                    reason: format!(
                        "its anchor file {} is missing. Restore the data directory (with its anchor) from a backup, or run `palisade store accept-loss` to go on knowingly (audited)",
                        path.display()
                    ),
                });
            }
            (Some(a), _) if writes < a.writes && !accept => {
                return Err(StoreError::LostWrites { path: shown, anchored: a.writes, stored: writes });
            }
            (Some(a), _) if !accept => AnchorState { writes: writes.max(a.writes), ..a.clone() },
            _ => AnchorState { writes, ..AnchorState::default() },
        };
        let anchored_audit = (state.audit_seq > 0).then(|| (state.audit_seq, state.audit_head.clone()));
        let accepted = AcceptedLoss { anchored: file.clone(), stored: writes };
        let fresh = file.as_ref() != Some(&state) || stored.is_none();
        let anchor = Anchor::new(path.to_path_buf(), key, state, keys.key_id());
        let store = Self {
            backend,
            keys,
            clock,
            anchor: Some(Arc::new(anchor)),
            anchored_audit,
            gate: tokio::sync::RwLock::new(()),
            pseudonyms: Default::default(),
            ids: Default::default(),
        };
        if fresh {
            store.anchor_now().await?;
        }
        Ok((store, accepted))
    }

    /// Writes a consistent backup of the whole store to `out` (see [`super::backup`]): writers wait while the
    /// trees are copied, readers do not.
    ///
    /// # Errors
    /// When the backend cannot be read or `out` cannot be written.
    pub async fn backup(&self, out: &std::path::Path) -> Result<super::BackupSummary, StoreError> {
        let _alone = self.gate.write().await;
        self.backend.flush().await?;
        super::backup::write(&*self.backend, &self.keys, self.clock.now_ms(), out).await
    }

    /// The anchor, if the store has one.
    pub fn anchor(&self) -> Option<&Anchor> {
        self.anchor.as_deref()
    }

    /// Writes the counter and the anchor file as they are now.
    async fn anchor_now(&self) -> Result<(), StoreError> {
        let Some(anchor) = &self.anchor else { return self.backend.flush().await };
        let _guard = anchor.lock().await;
        count_and_flush(&*self.backend, anchor, anchor.counted()).await
    }

    /// Makes every write so far durable and, with an anchor, counts it: the counter goes into the backend,
    /// the backend is flushed, then the anchor file records the counter. Concurrent callers share one
    /// anchor write.
    async fn flushed(&self) -> Result<(), StoreError> {
        let Some(anchor) = &self.anchor else { return self.backend.flush().await };
        let n = anchor.count();
        let Some((_guard, writes)) = anchor.begin(n).await else { return Ok(()) };
        count_and_flush(&*self.backend, anchor, writes).await
    }

    /// Counts the flush, puts the counter into the backend and flushes it; the anchor file records it in a
    /// moment (see [`super::anchor`]).
    async fn flushed_anchor_later(&self) -> Result<(), StoreError> {
        let Some(anchor) = &self.anchor else { return self.backend.flush().await };
        let state = anchor.to_write(anchor.count());
        put_counter(&*self.backend, anchor, state.writes).await?;
        self.backend.flush().await?;
        anchor.note_flushed(state);
        if let Some(at) = anchor.trail() {
            tokio::spawn(write_trailing(Arc::downgrade(anchor), at));
        }
        Ok(())
    }

    fn unreadable(namespace: &str, reason: &str) -> StoreError {
        StoreError::Unreadable { namespace: namespace.to_string(), reason: reason.to_string() }
    }

    /// Opens one stored value found at `backend_key`.
    async fn open_raw(&self, namespace: &str, backend_key: &[u8], sealed: &[u8]) -> Result<Record, StoreError> {
        let aad = layout::aad(namespace, backend_key);
        let plain = match layout::subject_of(backend_key) {
            Some(hash) => self.open_sealed(namespace, &aad, sealed, &hash).await?,
            None => self.keys.system.open(&aad, sealed).map_err(|e| Self::unreadable(namespace, &e.to_string()))?,
        };
        layout::decode(namespace, &plain)
    }

    async fn seal_key(&self, subject: Option<&[u8; layout::HASH_LEN]>) -> Result<Arc<Key>, StoreError> {
        match subject {
            Some(hash) => {
                self.keys.subject(hash, true).await?.ok_or_else(|| Self::unreadable("_keyring", "data key not created"))
            }
            None => Ok(self.keys.system.clone()),
        }
    }

    /// The backend key of `key` and `value` sealed for it, stamped now.
    async fn sealed(&self, key: &RecordKey<'_>, value: &[u8]) -> Result<(Vec<u8>, Vec<u8>), StoreError> {
        let (hash, bk) = self.locate(key);
        let envelope = layout::encode(key.id, value, self.clock.now_ms());
        let sealed = self
            .seal_key(hash.as_ref())
            .await?
            .seal(&layout::aad(key.namespace, &bk), &envelope)
            .map_err(|e| Self::unreadable(key.namespace, &e.to_string()))?;
        Ok((bk, sealed))
    }

    /// Opens every record under `prefix`; unreadable ones are logged (without content) and reported.
    async fn open_all(&self, namespace: &str, prefix: &[u8]) -> Result<(Vec<Record>, Vec<String>), StoreError> {
        let mut records = Vec::new();
        let mut failures = Vec::new();
        for (key, sealed) in self.backend.scan_prefix(namespace, prefix).await? {
            match self.open_raw(namespace, &key, &sealed).await {
                Ok(r) => records.push(r),
                Err(e) => {
                    let label = layout::label(&key);
                    tracing::warn!(namespace, record = %label, error = %e, "unreadable record skipped");
                    failures.push(format!("record …{label}: {e}"));
                }
            }
        }
        // Keys are hashes, so backend order is random; callers get id order.
        records.sort_by(|a, b| a.id.cmp(&b.id));
        Ok((records, failures))
    }

    /// The pseudonym of `subject` itself.
    fn pseudonym(&self, subject: &Subject) -> [u8; layout::HASH_LEN] {
        self.pseudonyms.hash(&self.keys.index, &layout::subject_input(subject))
    }

    /// The pseudonym records about `subject` are filed under: its person's id when it is linked.
    fn owner(&self, subject: &Subject) -> [u8; layout::HASH_LEN] {
        self.keys.resolve(&self.pseudonym(subject))
    }

    /// Where a record lives, and its owner's pseudonym.
    fn locate(&self, key: &RecordKey<'_>) -> (Option<[u8; layout::HASH_LEN]>, Vec<u8>) {
        let owner = key.subject.map(|s| self.owner(s));
        let id = self.ids.hash(&self.keys.index, &layout::id_input(key.namespace, key.id));
        (owner, layout::record_key_of(owner.as_ref(), &id))
    }

    /// Every record about `from`, in every data tree: (tree, backend key, sealed value).
    async fn records_of(&self, from: &[u8; layout::HASH_LEN]) -> Result<Vec<(String, Vec<u8>, Vec<u8>)>, StoreError> {
        let tag = layout::hash_tag(from);
        let mut out = Vec::new();
        for tree in self.backend.trees().await?.into_iter().filter(|t| !t.starts_with('_')) {
            for (key, sealed) in self.backend.scan_prefix(&tree, &tag).await? {
                out.push((tree.clone(), key, sealed));
            }
        }
        Ok(out)
    }

    /// Moves every record of `from` to `person` (re-sealed under the person's key), except those whose
    /// place the person already holds: those are reported by namespace. The caller links `from` afterwards,
    /// then removes `from`'s records and key ([`RecordStore::retire`]).
    async fn move_records(
        &self,
        from: &[u8; layout::HASH_LEN],
        person: &[u8; layout::HASH_LEN],
    ) -> Result<(u64, Vec<String>), StoreError> {
        let mut moved = 0;
        let mut kept = Vec::new();
        for (tree, key, sealed) in self.records_of(from).await? {
            let Some(target) = layout::moved_to(&key, person) else { continue };
            if self.backend.get(&tree, &target).await?.is_some() {
                if !kept.contains(&tree) {
                    kept.push(tree);
                }
                continue;
            }
            let plain = self.open_sealed(&tree, &layout::aad(&tree, &key), &sealed, from).await?;
            let resealed = self
                .seal_key(Some(person))
                .await?
                .seal(&layout::aad(&tree, &target), &plain)
                .map_err(|e| Self::unreadable(&tree, &e.to_string()))?;
            self.backend.insert(&tree, &target, &resealed).await?;
            moved += 1;
        }
        Ok((moved, kept))
    }

    /// Opens a value of `namespace` sealed with `owner`'s key (which may be a linked subject's, not yet
    /// retired) for `aad`.
    async fn open_sealed(
        &self,
        namespace: &str,
        aad: &[u8],
        sealed: &[u8],
        owner: &[u8; layout::HASH_LEN],
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let key = self
            .keys
            .subject(owner, false)
            .await?
            .ok_or_else(|| Self::unreadable(namespace, "its data subject was erased (no data key)"))?;
        key.open(aad, sealed).map_err(|e| Self::unreadable(namespace, &e.to_string()))
    }

    /// Removes the records of a subject that was linked (they live on under its person) and its own key.
    async fn retire(&self, subject: &[u8; layout::HASH_LEN]) -> Result<(), StoreError> {
        for (tree, key, _) in self.records_of(subject).await? {
            self.backend.remove(&tree, &key).await?;
        }
        self.keys.destroy(subject).await?;
        Ok(())
    }

    /// Which subjects a link joins, or why it cannot be made.
    fn link_plan(&self, joining: &Subject, to: &Subject) -> Result<LinkPlan, Linked> {
        let (j, t) = (self.pseudonym(joining), self.pseudonym(to));
        let (pj, pt) = (self.keys.resolve(&j), self.keys.resolve(&t));
        if pj == pt {
            return Err(Linked::Already);
        }
        if self.keys.is_linked(&j) {
            return Err(Linked::Elsewhere);
        }
        Ok(LinkPlan { joining: j, to: t, person: self.keys.is_linked(&t).then_some(pt) })
    }

    async fn durable(&self, durability: Durability) -> Result<(), StoreError> {
        match durability {
            Durability::Flushed => self.flushed().await,
            Durability::Batched => Ok(()),
        }
    }
}

/// Puts the counter `writes` into `backend`, unless a higher one went in already (so the counter never goes
/// down, whichever flush gets there first).
async fn put_counter(backend: &dyn Backend, anchor: &Anchor, writes: u64) -> Result<(), StoreError> {
    let mut highest = anchor.counter().await;
    if writes > *highest {
        backend
            .insert(super::anchor::TREE, super::anchor::COUNTER, &Anchor::seal_counter(anchor.key(), writes))
            .await?;
        *highest = writes;
    }
    Ok(())
}

/// Puts the counter `writes` into `backend`, flushes it, then writes the anchor file (the caller holds the
/// anchor's lock).
async fn count_and_flush(backend: &dyn Backend, anchor: &Anchor, writes: u64) -> Result<(), StoreError> {
    let state = anchor.to_write(writes);
    put_counter(backend, anchor, writes).await?;
    backend.flush().await?;
    anchor.note_flushed(state.clone());
    anchor.write_state(state).await
}

/// At `at`, writes the anchor file for every flush the backend holds by then — unless a flush since has (it
/// waited for the file), or the store is gone. It needs only the anchor: what it records is flushed already,
/// and a store closed meanwhile is not held open.
async fn write_trailing(anchor: std::sync::Weak<Anchor>, at: tokio::time::Instant) {
    tokio::time::sleep_until(at).await;
    let Some(anchor) = anchor.upgrade() else { return };
    anchor.trail_taken();
    let state = anchor.flushed();
    let Some(_guard) = anchor.begin(state.writes).await else { return };
    if let Err(error) = anchor.write_state(state).await {
        tracing::error!(%error, "could not write the store's anchor; the next flush tries again");
    }
}

#[async_trait]
impl Store for RecordStore {
    async fn put(&self, key: RecordKey<'_>, value: &[u8], durability: Durability) -> Result<(), StoreError> {
        let _timer = crate::metrics::StoreTimer::start("put");
        check_namespace(key.namespace)?;
        let _writing = self.gate.read().await;
        let (bk, sealed) = self.sealed(&key, value).await?;
        self.backend.insert(key.namespace, &bk, &sealed).await?;
        self.durable(durability).await
    }

    async fn create(&self, key: RecordKey<'_>, value: &[u8], durability: Durability) -> Result<bool, StoreError> {
        let _timer = crate::metrics::StoreTimer::start("create");
        check_namespace(key.namespace)?;
        let _writing = self.gate.read().await;
        let (bk, sealed) = self.sealed(&key, value).await?;
        if self.backend.insert_if_absent(key.namespace, &bk, &sealed).await?.is_some() {
            return Ok(false);
        }
        self.durable(durability).await?;
        Ok(true)
    }

    async fn swap(
        &self,
        key: RecordKey<'_>,
        current: Option<&Record>,
        new: Option<&[u8]>,
        durability: Durability,
    ) -> Result<bool, StoreError> {
        let _timer = crate::metrics::StoreTimer::start("swap");
        check_namespace(key.namespace)?;
        let _writing = self.gate.read().await;
        let (_, bk) = self.locate(&key);
        let held = self.backend.get(key.namespace, &bk).await?;
        let swapped = match (current, held) {
            (None, None) => match new {
                Some(value) => {
                    let (bk, sealed) = self.sealed(&key, value).await?;
                    self.backend.insert_if_absent(key.namespace, &bk, &sealed).await?.is_none()
                }
                None => true,
            },
            (Some(current), Some(sealed)) => {
                // Compared opened: the sealed bytes differ with every write, the comparison below them is
                // what makes it atomic (a write between this read and the swap changes them).
                let held = self.open_raw(key.namespace, &bk, &sealed).await?;
                if *held.value != *current.value || held.written_at_ms != current.written_at_ms {
                    false
                } else if let Some(value) = new {
                    let (bk, fresh) = self.sealed(&key, value).await?;
                    self.backend.replace_if_unchanged(key.namespace, &bk, &sealed, &fresh).await?
                } else {
                    self.backend.remove_if_unchanged(key.namespace, &bk, &sealed).await?
                }
            }
            _ => false,
        };
        if swapped {
            self.durable(durability).await?;
        }
        Ok(swapped)
    }

    async fn get(&self, key: RecordKey<'_>) -> Result<Option<Record>, StoreError> {
        let _timer = crate::metrics::StoreTimer::start("get");
        check_namespace(key.namespace)?;
        let (_, bk) = self.locate(&key);
        let Some(sealed) = self.backend.get(key.namespace, &bk).await? else {
            return Ok(None);
        };
        self.open_raw(key.namespace, &bk, &sealed).await.map(Some)
    }

    async fn delete(&self, key: RecordKey<'_>, durability: Durability) -> Result<bool, StoreError> {
        let _timer = crate::metrics::StoreTimer::start("delete");
        check_namespace(key.namespace)?;
        let _writing = self.gate.read().await;
        let (_, bk) = self.locate(&key);
        let existed = self.backend.remove(key.namespace, &bk).await?;
        self.durable(durability).await?;
        Ok(existed)
    }

    async fn seal_part(
        &self,
        namespace: &str,
        subject: &Subject,
        context: &[u8],
        value: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        check_namespace(namespace)?;
        let _writing = self.gate.read().await;
        let owner = self.owner(subject);
        let sealed = self
            .seal_key(Some(&owner))
            .await?
            .seal(&layout::part_aad(namespace, &owner, context), value)
            .map_err(|e| Self::unreadable(namespace, &e.to_string()))?;
        Ok([&owner[..], &sealed].concat())
    }

    async fn open_part(&self, namespace: &str, context: &[u8], part: &[u8]) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        check_namespace(namespace)?;
        let (owner, sealed) = part
            .split_first_chunk::<{ layout::HASH_LEN }>()
            .ok_or_else(|| Self::unreadable(namespace, "a sealed part shorter than its owner's id"))?;
        self.open_sealed(namespace, &layout::part_aad(namespace, owner, context), sealed, owner).await
    }

    async fn list(&self, namespace: &str, subject: Option<&Subject>) -> Result<Vec<Record>, StoreError> {
        let _timer = crate::metrics::StoreTimer::start("list");
        check_namespace(namespace)?;
        let tag = match subject {
            Some(s) => layout::hash_tag(&self.owner(s)),
            None => vec![0],
        };
        Ok(self.open_all(namespace, &tag).await?.0)
    }

    async fn scan(&self, namespace: &str) -> Result<Vec<Record>, StoreError> {
        check_namespace(namespace)?;
        Ok(self.open_all(namespace, &[]).await?.0)
    }

    async fn erase_subject(&self, subject: &Subject) -> Result<u64, StoreError> {
        let _writing = self.gate.read().await;
        // A linked subject's erasure is its person's: every identity linked to it goes with it.
        let own = self.pseudonym(subject);
        self.pseudonyms.clear();
        self.ids.clear();
        let person = self.keys.resolve(&own);
        // Shred first: once the data key is gone, every copy of the records is unreadable, even if deleting
        // them below is interrupted.
        self.keys.destroy(&person).await?;
        for linked in self.keys.linked_to(&person) {
            self.keys.unlink(&linked).await?;
            self.keys.destroy(&linked).await?;
        }
        let mut erased = 0;
        for (tree, key, _) in self.records_of(&person).await? {
            erased += u64::from(self.backend.remove(&tree, &key).await?);
        }
        self.flushed().await?;
        Ok(erased)
    }

    async fn link_subjects(
        &self,
        joining: &Subject,
        to: &Subject,
        person_wins: &(dyn for<'n> Fn(&'n str) -> bool + Send + Sync),
    ) -> Result<Linked, StoreError> {
        // Alone: nothing is written about either subject while their records move.
        let _moving = self.gate.write().await;
        let plan = match self.link_plan(joining, to) {
            Ok(plan) => plan,
            Err(answer) => return Ok(answer),
        };
        let person = match plan.person {
            Some(person) => person,
            // A new person: an id of its own, so that either identity can later leave it.
            None => {
                let random =
                    crate::crypto::random_bytes(layout::HASH_LEN).map_err(|e| StoreError::MasterKey(e.to_string()))?;
                let mut id = [0u8; layout::HASH_LEN];
                id.copy_from_slice(&random[..layout::HASH_LEN]);
                id
            }
        };
        // Conflicts the person may not win are found before anything changes.
        let existing: Vec<(String, Vec<u8>)> = match plan.person {
            Some(p) => self.records_of(&p).await?.into_iter().map(|(t, k, _)| (t, k)).collect(),
            None => self.records_of(&plan.to).await?.into_iter().map(|(t, k, _)| (t, k)).collect(),
        };
        let mut blocked = Vec::new();
        for (tree, key, _) in self.records_of(&plan.joining).await? {
            let clash = existing
                .iter()
                .any(|(t, k)| *t == tree && k.get(1 + layout::HASH_LEN..) == key.get(1 + layout::HASH_LEN..));
            if clash && !person_wins(&tree) && !blocked.contains(&tree) {
                blocked.push(tree);
            }
        }
        if !blocked.is_empty() {
            return Ok(Linked::Conflicts(blocked));
        }
        let mut moved = 0;
        if plan.person.is_none() {
            moved += self.move_records(&plan.to, &person).await?.0;
            self.flushed().await?;
            self.keys.link(&plan.to, &person).await?;
        }
        let (n, dropped) = self.move_records(&plan.joining, &person).await?;
        moved += n;
        self.flushed().await?;
        self.keys.link(&plan.joining, &person).await?;
        self.flushed().await?;
        // Linked and durable: the old copies go. (Interrupted here, they are unreachable and
        // `purge_orphans` removes them.)
        if plan.person.is_none() {
            self.retire(&plan.to).await?;
        }
        self.retire(&plan.joining).await?;
        self.flushed().await?;
        Ok(Linked::Done { moved, dropped })
    }

    async fn unlink_subject(&self, subject: &Subject) -> Result<bool, StoreError> {
        let _writing = self.gate.read().await;
        let own = self.pseudonym(subject);
        let was = self.keys.is_linked(&own);
        if was {
            self.keys.unlink(&own).await?;
            self.flushed().await?;
        }
        Ok(was)
    }

    fn person_id(&self, subject: &Subject) -> [u8; 32] {
        self.owner(subject)
    }

    fn shared(&self) -> bool {
        self.backend.shared()
    }

    fn is_linked(&self, subject: &Subject) -> bool {
        self.keys.is_linked(&self.pseudonym(subject))
    }

    async fn refresh(&self) -> Result<(), StoreError> {
        if self.backend.shared() { self.keys.refresh_links().await } else { Ok(()) }
    }

    async fn sweep_older_than(&self, namespace: &str, cutoff_ms: u64) -> Result<u64, StoreError> {
        check_namespace(namespace)?;
        let _writing = self.gate.read().await;
        let mut removed = 0;
        for (key, sealed) in self.backend.scan_prefix(namespace, &[]).await? {
            // Removed only if it is still the value judged too old: a record rewritten meanwhile is fresh.
            if let Ok(record) = self.open_raw(namespace, &key, &sealed).await
                && record.written_at_ms < cutoff_ms
            {
                removed += u64::from(self.backend.remove_if_unchanged(namespace, &key, &sealed).await?);
            }
        }
        self.flushed().await?;
        Ok(removed)
    }

    async fn purge_orphans(&self) -> Result<u64, StoreError> {
        let _writing = self.gate.read().await;
        let mut removed = 0;
        for tree in self.backend.trees().await?.into_iter().filter(|t| !t.starts_with('_')) {
            for (key, _) in self.backend.scan_prefix(&tree, &[1]).await? {
                let orphan = match layout::subject_of(&key) {
                    // Left behind by an interrupted link: the subject's records live on under its person.
                    Some(hash) if self.keys.is_linked(&hash) => true,
                    Some(hash) => self.keys.subject(&hash, false).await?.is_none(),
                    None => false,
                };
                if orphan {
                    removed += u64::from(self.backend.remove(&tree, &key).await?);
                }
            }
        }
        for linked in self.keys.linked() {
            // A linked subject's own key outlives its link only when the link was interrupted.
            if self.keys.subject(&linked, false).await?.is_some() {
                self.keys.destroy(&linked).await?;
            }
        }
        if removed > 0 {
            self.flushed().await?;
            tracing::info!(removed, "removed records left behind by an interrupted erasure or link");
        }
        Ok(removed)
    }

    fn note_audit_head(&self, seq: u64, mac: &str) {
        if let Some(anchor) = &self.anchor {
            anchor.note_audit_head(seq, mac);
        }
    }

    fn anchored_audit_head(&self) -> Option<(u64, String)> {
        self.anchored_audit.clone()
    }

    fn keyed_hash(&self, purpose: &str, data: &[u8]) -> Result<[u8; 32], StoreError> {
        let key = self.keys.index.derive(purpose).map_err(|e| StoreError::MasterKey(e.to_string()))?;
        Ok(key.hash(data))
    }

    async fn subject_count(&self) -> Result<u64, StoreError> {
        self.keys.subject_count().await
    }

    async fn stats(&self) -> Result<Vec<NamespaceStats>, StoreError> {
        let mut stats = Vec::new();
        for namespace in self.backend.trees().await?.into_iter().filter(|t| !t.starts_with('_')) {
            let (records, failures) = self.open_all(&namespace, &[]).await?;
            stats.push(NamespaceStats {
                records: records.len() as u64,
                unreadable: failures.len() as u64,
                failures,
                namespace,
            });
        }
        Ok(stats)
    }

    async fn flush(&self) -> Result<(), StoreError> {
        let _writing = self.gate.read().await;
        self.flushed().await
    }

    async fn flush_anchor_later(&self) -> Result<(), StoreError> {
        let _writing = self.gate.read().await;
        self.flushed_anchor_later().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the store remembers of people to spare keyed hashes (their platform ids, and record ids that may
    /// name them) goes with an erasure.
    #[tokio::test]
    async fn an_erasure_empties_the_memos_of_pseudonyms_and_record_ids() {
        let key = Key::from_bytes(&[7u8; 32]).unwrap_or_else(|_| unreachable!());
        let backend = Arc::new(super::super::MemoryBackend::new());
        let store = RecordStore::open(backend, &key, crate::clock::SystemClock::shared()).await.unwrap();
        let ann = Subject::user(&"console:ann".parse().unwrap());
        let at = RecordKey { namespace: "notes", subject: Some(&ann), id: b"flow:console:ann" };
        store.put(at, b"x", Durability::Batched).await.unwrap();
        assert!(!store.pseudonyms.is_empty() && !store.ids.is_empty(), "both were used");
        store.erase_subject(&ann).await.unwrap();
        assert!(store.pseudonyms.is_empty() && store.ids.is_empty());
    }
}
