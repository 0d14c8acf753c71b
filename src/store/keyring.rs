//! Envelope encryption: the master key wraps per-subject data keys and the store's own keys; records are
//! sealed with data keys only.
//!
//! The `_keyring` tree holds each wrapped key as `kek id (8) ‖ sealed key`, where the kek (key-encryption
//! key) is derived from the master key and the kek id is the first bytes of the master key's check value.
//! Entries: `index` (keys the pseudonymous hashes), `system` (seals records about nobody) and one
//! `s:<subject hash>` per data subject. The `_meta` tree holds the key check value `kcv`, and `kcv.next`
//! while a rotation is under way. Destroying a subject's entry makes every copy of their records unreadable.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use tokio::sync::Mutex;

use super::StoreError;
use super::backend::Backend;
use super::layout::HASH_LEN;
use crate::crypto::{Key, ct_eq};

pub(crate) const KEYRING: &str = "_keyring";
pub(crate) const META: &str = "_meta";
/// Linked subjects: `<subject hash>` → the person's id, sealed under the system key (bound to the entry's
/// name), so a link cannot be forged or moved by someone who can write the files but has no key.
pub(crate) const LINKS: &str = "_links";
const KCV: &[u8] = b"kcv";
const KCV_NEXT: &[u8] = b"kcv.next";
const KEK_ID_LEN: usize = 8;

/// What a master key is known by: its key check value and the kek derived from it.
pub(crate) struct Master {
    kcv: [u8; 32],
    kek: Key,
}

impl Master {
    pub(crate) fn new(master: &Key) -> Result<Self, StoreError> {
        let crypto = |e: crate::crypto::CryptoError| StoreError::MasterKey(e.to_string());
        let kcv = master.derive("palisade/kcv/v1").map_err(crypto)?.hash(b"palisade key check value");
        Ok(Self { kcv, kek: master.derive("palisade/kek/v1").map_err(crypto)? })
    }

    fn id(&self) -> &[u8] {
        &self.kcv[..KEK_ID_LEN]
    }
}

/// The id of `master` (the first bytes of its key check value, as the keyring tags wrapped keys with), in
/// hex: names a master key without revealing anything about it.
///
/// # Errors
/// When the key cannot be derived from.
pub fn key_id(master: &Key) -> Result<String, StoreError> {
    Ok(crate::crypto::hex(Master::new(master)?.id()))
}

impl Master {
    fn wrap(&self, name: &[u8], key: &Key) -> Result<Vec<u8>, StoreError> {
        let sealed = self
            .kek
            .seal(&[b"keyring/", name].concat(), key.expose())
            .map_err(|e| StoreError::MasterKey(format!("cannot wrap a data key: {e}")))?;
        Ok([self.id(), &sealed].concat())
    }

    fn unwrap(&self, name: &[u8], wrapped: &[u8]) -> Result<Key, StoreError> {
        let bad = |reason: &str| StoreError::Unreadable { namespace: KEYRING.into(), reason: reason.into() };
        if wrapped.len() < KEK_ID_LEN || !ct_eq(&wrapped[..KEK_ID_LEN], self.id()) {
            return Err(bad("wrapped under another master key"));
        }
        let raw = self
            .kek
            .open(&[b"keyring/", name].concat(), &wrapped[KEK_ID_LEN..])
            .map_err(|_| bad("key entry altered"))?;
        Key::from_bytes(&raw).map_err(|_| bad("key entry has the wrong length"))
    }
}

/// What the name of a subject's entry in the keyring starts with (the subject hash follows).
pub(crate) const SUBJECT_ENTRY: &[u8] = b"s:";

fn subject_entry(hash: &[u8; HASH_LEN]) -> Vec<u8> {
    [SUBJECT_ENTRY, &hash[..]].concat()
}

/// The unwrapped keys of an open store.
pub(crate) struct Keyring {
    backend: Arc<dyn Backend>,
    master: Master,
    pub(crate) index: Key,
    pub(crate) system: Arc<Key>,
    subjects: RwLock<HashMap<[u8; HASH_LEN], Arc<Key>>>,
    /// Subject → person, for linked subjects (all of them: loaded at open, a few bytes each; read again by
    /// [`Keyring::refresh_links`] where other processes share the backend).
    links: RwLock<HashMap<[u8; HASH_LEN], [u8; HASH_LEN]>>,
    /// Serialises creation of subject keys so two first writes cannot create two keys for one subject.
    creating: Mutex<()>,
}

impl Keyring {
    /// The id of the master key the keyring is open with ([`key_id`]).
    pub(crate) fn key_id(&self) -> String {
        crate::crypto::hex(self.master.id())
    }

    /// Opens the keyring with `master`, creating it in an empty store.
    pub(crate) async fn open(backend: Arc<dyn Backend>, master: &Key) -> Result<Self, StoreError> {
        let master = Master::new(master)?;
        if backend.get(META, KCV_NEXT).await?.is_some() {
            return Err(StoreError::RotationInterrupted);
        }
        match backend.get(META, KCV).await? {
            Some(stored) if ct_eq(&stored, &master.kcv) => {}
            Some(_) => return Err(StoreError::WrongKey),
            None => init(&*backend, &master).await?,
        }
        let (index, system) = (load(&*backend, &master, b"index").await?, load(&*backend, &master, b"system").await?);
        let links = load_links(&*backend, &system).await?;
        Ok(Self {
            backend,
            master,
            index,
            system: Arc::new(system),
            subjects: RwLock::default(),
            links: RwLock::new(links),
            creating: Mutex::new(()),
        })
    }

    /// The person `hash` belongs to: the person's id for a linked subject, `hash` itself otherwise.
    pub(crate) fn resolve(&self, hash: &[u8; HASH_LEN]) -> [u8; HASH_LEN] {
        self.links.read().unwrap_or_else(PoisonError::into_inner).get(hash).copied().unwrap_or(*hash)
    }

    /// Whether `hash` is linked to a person.
    pub(crate) fn is_linked(&self, hash: &[u8; HASH_LEN]) -> bool {
        self.links.read().unwrap_or_else(PoisonError::into_inner).contains_key(hash)
    }

    /// Every linked subject.
    pub(crate) fn linked(&self) -> Vec<[u8; HASH_LEN]> {
        self.links.read().unwrap_or_else(PoisonError::into_inner).keys().copied().collect()
    }

    /// The subjects linked to `person`.
    pub(crate) fn linked_to(&self, person: &[u8; HASH_LEN]) -> Vec<[u8; HASH_LEN]> {
        let links = self.links.read().unwrap_or_else(PoisonError::into_inner);
        links.iter().filter(|(_, p)| *p == person).map(|(s, _)| *s).collect()
    }

    /// Reads every link again from the backend (another process sharing it may have linked or unlinked).
    pub(crate) async fn refresh_links(&self) -> Result<(), StoreError> {
        let links = load_links(&*self.backend, &self.system).await?;
        *self.links.write().unwrap_or_else(PoisonError::into_inner) = links;
        Ok(())
    }

    /// Links `subject` to `person` (written, not yet flushed).
    pub(crate) async fn link(&self, subject: &[u8; HASH_LEN], person: &[u8; HASH_LEN]) -> Result<(), StoreError> {
        let sealed = self
            .system
            .seal(&[b"link/", &subject[..]].concat(), person)
            .map_err(|e| StoreError::MasterKey(format!("cannot seal a link: {e}")))?;
        self.backend.insert(LINKS, subject, &sealed).await?;
        self.links.write().unwrap_or_else(PoisonError::into_inner).insert(*subject, *person);
        Ok(())
    }

    /// Removes `subject`'s link (written, not yet flushed); returns whether it was linked.
    pub(crate) async fn unlink(&self, subject: &[u8; HASH_LEN]) -> Result<bool, StoreError> {
        self.links.write().unwrap_or_else(PoisonError::into_inner).remove(subject);
        self.backend.remove(LINKS, subject).await
    }

    /// The data key of a subject; created on first use when `create` is set (durable before anything sealed
    /// with it can be).
    ///
    /// On a shared backend (several replicas) nothing is cached: another replica may erase the subject at any
    /// moment, and a cached key would go on reading and writing what is meant to be unreadable.
    pub(crate) async fn subject(&self, hash: &[u8; HASH_LEN], create: bool) -> Result<Option<Arc<Key>>, StoreError> {
        if self.backend.shared() {
            return self.fetch_subject(hash, create).await;
        }
        if let Some(k) = self.subjects.read().unwrap_or_else(PoisonError::into_inner).get(hash) {
            return Ok(Some(k.clone()));
        }
        // Every cache miss takes the lock `destroy` takes, so a key being destroyed cannot be read just before
        // and cached just after (which would let later writes use a key that is no longer in the keyring).
        let _guard = self.creating.lock().await;
        if let Some(k) = self.subjects.read().unwrap_or_else(PoisonError::into_inner).get(hash) {
            return Ok(Some(k.clone()));
        }
        let Some(key) = self.fetch_subject(hash, create).await? else { return Ok(None) };
        self.subjects.write().unwrap_or_else(PoisonError::into_inner).insert(*hash, key.clone());
        Ok(Some(key))
    }

    /// Reads a subject's data key from the backend, creating it when asked. Creation only creates: when
    /// another process made the key first, theirs is used.
    async fn fetch_subject(&self, hash: &[u8; HASH_LEN], create: bool) -> Result<Option<Arc<Key>>, StoreError> {
        let name = subject_entry(hash);
        let key = match self.backend.get(KEYRING, &name).await? {
            Some(wrapped) => self.master.unwrap(&name, &wrapped)?,
            None if create => {
                let key = Key::generate().map_err(|e| StoreError::MasterKey(e.to_string()))?;
                let key = match self.backend.insert_if_absent(KEYRING, &name, &self.master.wrap(&name, &key)?).await? {
                    Some(theirs) => self.master.unwrap(&name, &theirs)?,
                    None => key,
                };
                // The key must be durable before anything sealed with it can be. A backend that recovers
                // writes in order gives that without a flush: whatever makes a sealed record durable later
                // makes the key durable first. Saved: one flush on a new person's first message.
                if !self.backend.recovers_in_order() {
                    self.backend.flush().await?;
                }
                key
            }
            None => return Ok(None),
        };
        Ok(Some(Arc::new(key)))
    }

    /// Destroys a subject's data key (crypto-shredding) and flushes; returns whether it existed.
    pub(crate) async fn destroy(&self, hash: &[u8; HASH_LEN]) -> Result<bool, StoreError> {
        let _guard = self.creating.lock().await;
        self.subjects.write().unwrap_or_else(PoisonError::into_inner).remove(hash);
        let existed = self.backend.remove(KEYRING, &subject_entry(hash)).await?;
        self.backend.flush().await?;
        Ok(existed)
    }

    /// How many subjects have a data key.
    pub(crate) async fn subject_count(&self) -> Result<u64, StoreError> {
        Ok(self.backend.scan_prefix(KEYRING, SUBJECT_ENTRY).await?.len() as u64)
    }
}

/// Every link, opened. A link that does not open (altered, or copied from another store) is left out and
/// logged: its subject then stands alone, which shows less, never another person's data.
async fn load_links(
    backend: &dyn Backend,
    system: &Key,
) -> Result<HashMap<[u8; HASH_LEN], [u8; HASH_LEN]>, StoreError> {
    let mut links = HashMap::new();
    for (name, sealed) in backend.scan_prefix(LINKS, b"").await? {
        let opened = <[u8; HASH_LEN]>::try_from(name.as_slice()).ok().and_then(|subject| {
            let person = system.open(&[b"link/", &subject[..]].concat(), &sealed).ok()?;
            Some((subject, <[u8; HASH_LEN]>::try_from(person.as_slice()).ok()?))
        });
        match opened {
            Some((subject, person)) => {
                links.insert(subject, person);
            }
            None => tracing::error!("a subject link does not open (altered?); that subject stands alone"),
        }
    }
    Ok(links)
}

/// Reads and unwraps one of the store's own keys.
async fn load(backend: &dyn Backend, master: &Master, name: &[u8]) -> Result<Key, StoreError> {
    let wrapped = backend.get(KEYRING, name).await?.ok_or(StoreError::Unreadable {
        namespace: KEYRING.into(),
        reason: format!("the `{}` key is missing", String::from_utf8_lossy(name)),
    })?;
    master.unwrap(name, &wrapped)
}

async fn init(backend: &dyn Backend, master: &Master) -> Result<(), StoreError> {
    let has_data = backend.trees().await?.iter().any(|t| !t.starts_with('_'));
    if has_data || !backend.scan_prefix(KEYRING, b"").await?.is_empty() {
        return Err(StoreError::NotEncrypted);
    }
    // Every write only creates: two processes initialising one shared store at once end up with the keys
    // whichever wrote first, and a process holding another master key is refused.
    for name in [&b"index"[..], b"system"] {
        let key = Key::generate().map_err(|e| StoreError::MasterKey(e.to_string()))?;
        backend.insert_if_absent(KEYRING, name, &master.wrap(name, &key)?).await?;
    }
    match backend.insert_if_absent(META, KCV, &master.kcv).await? {
        Some(stored) if !ct_eq(&stored, &master.kcv) => return Err(StoreError::WrongKey),
        _ => {}
    }
    backend.flush().await
}

/// Progress of a master key rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationProgress {
    /// Entries re-wrapped by this run.
    pub rewrapped: u64,
    /// Entries already under the new key (from an interrupted earlier run).
    pub already_done: u64,
    /// Entries still under the old key (zero when the rotation is complete).
    pub remaining: u64,
}

/// Re-wraps every key in the keyring from `old` to `new` without touching records. Resumable: a run that
/// stops part-way leaves a `kcv.next` marker, and the store then refuses to open until a later run with the
/// same keys finishes. `limit` stops after that many entries (used to test interruption).
pub async fn rotate(
    backend: &dyn Backend,
    old: &Key,
    new: &Key,
    limit: Option<u64>,
) -> Result<RotationProgress, StoreError> {
    let (old, new) = (Master::new(old)?, Master::new(new)?);
    let stored = backend.get(META, KCV).await?.ok_or(StoreError::NotEncrypted)?;
    let pending = backend.get(META, KCV_NEXT).await?;
    if ct_eq(&stored, &new.kcv) {
        // Done already; a crash may have left the marker after the check value was switched.
        if pending.is_some() {
            backend.remove(META, KCV_NEXT).await?;
            backend.flush().await?;
        }
        return Ok(RotationProgress { rewrapped: 0, already_done: 0, remaining: 0 });
    }
    if !ct_eq(&stored, &old.kcv) {
        return Err(StoreError::WrongKey);
    }
    if pending.as_deref().is_some_and(|p| !ct_eq(p, &new.kcv)) {
        return Err(StoreError::MasterKey(
            "an interrupted rotation to a different new key is pending; finish it with that key first".into(),
        ));
    }
    backend.insert(META, KCV_NEXT, &new.kcv).await?;
    backend.flush().await?;
    let mut progress = RotationProgress { rewrapped: 0, already_done: 0, remaining: 0 };
    for (name, wrapped) in backend.scan_prefix(KEYRING, b"").await? {
        if wrapped.starts_with(new.id()) {
            progress.already_done += 1;
        } else if limit.is_some_and(|l| progress.rewrapped >= l) {
            progress.remaining += 1;
        } else {
            let key = old.unwrap(&name, &wrapped)?;
            backend.insert(KEYRING, &name, &new.wrap(&name, &key)?).await?;
            progress.rewrapped += 1;
        }
    }
    backend.flush().await?;
    if progress.remaining == 0 {
        backend.insert(META, KCV, &new.kcv).await?;
        backend.remove(META, KCV_NEXT).await?;
        backend.flush().await?;
    }
    Ok(progress)
}
