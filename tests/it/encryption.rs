//! The encrypted store on real sled files: nothing readable at rest, tampering and wrong keys detected,
//! rotation, crypto-shredding, crash durability and retention.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::support::{all_bytes, encodings};
use palisade::clock::{Clock, TokioClock};
use palisade::crypto::Key;
use palisade::store::{Backend, Durability, RecordKey, RecordStore, SledBackend, Store, StoreError, Subject};
use palisade::{Platform, UserRef};

fn subject(id: &str) -> Subject {
    Subject::user(&UserRef::new(Platform::TELEGRAM, id))
}

fn key<'a>(ns: &'a str, s: Option<&'a Subject>, id: &'a str) -> RecordKey<'a> {
    RecordKey { namespace: ns, subject: s, id: id.as_bytes() }
}

fn sled(dir: &Path) -> Arc<dyn Backend> {
    Arc::new(SledBackend::open(dir).unwrap())
}

async fn open(backend: &Arc<dyn Backend>, master: &Key) -> Result<RecordStore, StoreError> {
    RecordStore::open(backend.clone(), master, TokioClock::shared()).await
}

#[tokio::test]
async fn nothing_personal_is_readable_in_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let markers =
        ["90817263544", "username-zq7hX3Lp", "note-text-Kv83LmQwe", "JBSWY3DPEHPK3PXPQ7ZT", "chat-55512349876"];
    {
        let store: palisade::store::SharedStore =
            Arc::new(open(&sled(&data), &crate::support::test_key()).await.unwrap());
        let user = subject(markers[0]);
        store.put(key("profile", Some(&user), "username"), markers[1].as_bytes(), Durability::Flushed).await.unwrap();
        store.put(key("twofactor", Some(&user), "secret"), markers[3].as_bytes(), Durability::Flushed).await.unwrap();
        store.put(key("sessions", Some(&user), markers[4]), b"x", Durability::Flushed).await.unwrap();
        // And through the whole framework: a note saved by the notes plugin in a flow.
        let notes: Vec<Arc<dyn palisade::Plugin>> = vec![Arc::new(palisade_notes::Notes::default())];
        let h = crate::support::Harness::start(notes, store);
        let mut e = crate::support::event(markers[0], &format!("/note {}", markers[2]));
        e.chat.id = markers[4].into();
        h.send(e.clone()).await;
        e.kind = palisade::EventKind::Text("Title".into());
        assert_eq!(h.send(e).await, ["Saved “Title”. /notes lists your notes."]);
        h.stop().await;
    }
    let files = all_bytes(&data);
    // Positive control: the scan does find plaintext that is there (namespace names are not personal).
    let control = encodings("twofactor").remove(0);
    assert!(files.iter().any(|(_, b)| b.windows(control.len()).any(|w| w == control)), "the scan sees sled's files");
    for marker in markers {
        for form in encodings(marker) {
            for (name, bytes) in &files {
                assert!(!bytes.windows(form.len()).any(|w| w == form), "{marker} found in {name}");
            }
        }
    }
}

#[tokio::test]
async fn a_ciphertext_moved_to_another_key_does_not_open() {
    let dir = tempfile::tempdir().unwrap();
    let backend = sled(dir.path());
    let store = open(&backend, &crate::support::test_key()).await.unwrap();
    let ann = subject("1");
    store.put(key("notes", Some(&ann), "a"), b"first", Durability::Batched).await.unwrap();
    store.put(key("notes", Some(&ann), "b"), b"second", Durability::Batched).await.unwrap();
    let raw = backend.scan_prefix("notes", &[]).await.unwrap();
    assert_eq!(raw.len(), 2);
    backend.insert("notes", &raw[0].0, &raw[1].1).await.unwrap();
    backend.insert("notes", &raw[1].0, &raw[0].1).await.unwrap();
    for id in ["a", "b"] {
        let err = store.get(key("notes", Some(&ann), id)).await.unwrap_err();
        assert!(matches!(err, StoreError::Unreadable { .. }), "{err}");
    }
    // Moving a value to the same key in another namespace fails too.
    backend.insert("other", &raw[0].0, &raw[0].1).await.unwrap();
    assert!(store.list("other", Some(&ann)).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_wrong_master_key_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(&sled(dir.path()), &crate::support::test_key()).await.unwrap());
    let err = open(&sled(dir.path()), &Key::generate().unwrap()).await.unwrap_err();
    assert!(matches!(err, StoreError::WrongKey));
    assert!(err.to_string().contains("does not match this store"), "{err}");
}

#[tokio::test]
async fn a_flipped_byte_spoils_one_record_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let backend = sled(dir.path());
    let store = open(&backend, &crate::support::test_key()).await.unwrap();
    let ann = subject("1");
    for id in ["a", "b", "c"] {
        store.put(key("notes", Some(&ann), id), id.as_bytes(), Durability::Batched).await.unwrap();
    }
    let (victim, mut bytes) = backend.scan_prefix("notes", &[]).await.unwrap().remove(1);
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    backend.insert("notes", &victim, &bytes).await.unwrap();
    let readable: Vec<_> = store.list("notes", Some(&ann)).await.unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(readable.len(), 2);
    let stats = store.stats().await.unwrap();
    assert_eq!((stats[0].records, stats[0].unreadable), (2, 1));
    assert!(stats[0].failures[0].contains("authentication failed"), "{:?}", stats[0].failures);
    let mut broken = 0;
    for id in ["a", "b", "c"] {
        broken += usize::from(store.get(key("notes", Some(&ann), id)).await.is_err());
    }
    assert_eq!(broken, 1);
}

async fn fill(store: &RecordStore) -> Vec<(Option<Subject>, String, Vec<u8>)> {
    let mut written = Vec::new();
    for s in [Some(subject("1")), Some(subject("2")), Some(subject("3")), None] {
        for i in 0..4 {
            let id = format!("rec-{i}");
            let value = format!("{s:?}/{i}").into_bytes();
            store.put(key("data", s.as_ref(), &id), &value, Durability::Batched).await.unwrap();
            written.push((s.clone(), id, value));
        }
    }
    written
}

async fn assert_all_readable(store: &RecordStore, written: &[(Option<Subject>, String, Vec<u8>)]) {
    for (s, id, value) in written {
        assert_eq!(&store.get(key("data", s.as_ref(), id)).await.unwrap().unwrap().value[..], &value[..]);
    }
}

#[tokio::test]
async fn rotation_rewraps_keys_and_every_record_stays_readable() {
    let dir = tempfile::tempdir().unwrap();
    let backend = sled(dir.path());
    let (old, new) = (crate::support::test_key(), Key::generate().unwrap());
    let written = fill(&open(&backend, &old).await.unwrap()).await;
    let records_before = backend.scan_prefix("data", &[]).await.unwrap();
    let progress = palisade::store::rotate(&*backend, &old, &new, None).await.unwrap();
    assert_eq!((progress.rewrapped, progress.remaining), (5, 0), "index, system and three subjects");
    assert_eq!(backend.scan_prefix("data", &[]).await.unwrap(), records_before, "records are not rewritten");
    assert_all_readable(&open(&backend, &new).await.unwrap(), &written).await;
    assert!(matches!(open(&backend, &old).await, Err(StoreError::WrongKey)));
    let again = palisade::store::rotate(&*backend, &old, &new, None).await.unwrap();
    assert_eq!(again.rewrapped, 0, "running it twice is harmless");
}

#[tokio::test]
async fn an_interrupted_rotation_blocks_opening_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let backend = sled(dir.path());
    let (old, new) = (crate::support::test_key(), Key::generate().unwrap());
    let written = fill(&open(&backend, &old).await.unwrap()).await;
    let partial = palisade::store::rotate(&*backend, &old, &new, Some(2)).await.unwrap();
    assert_eq!((partial.rewrapped, partial.remaining), (2, 3));
    assert!(matches!(open(&backend, &old).await, Err(StoreError::RotationInterrupted)));
    assert!(matches!(open(&backend, &new).await, Err(StoreError::RotationInterrupted)));
    let other = Key::generate().unwrap();
    assert!(palisade::store::rotate(&*backend, &old, &other, None).await.is_err(), "a different new key is refused");
    let rest = palisade::store::rotate(&*backend, &old, &new, None).await.unwrap();
    assert_eq!((rest.rewrapped, rest.already_done, rest.remaining), (3, 2, 0));
    assert_all_readable(&open(&backend, &new).await.unwrap(), &written).await;
}

#[tokio::test]
async fn erased_subjects_records_cannot_be_opened_even_from_a_copy() {
    let dir = tempfile::tempdir().unwrap();
    let backend = sled(dir.path());
    let store = open(&backend, &crate::support::test_key()).await.unwrap();
    let (ann, bob) = (subject("1"), subject("2"));
    store.put(key("notes", Some(&ann), "diary"), b"ann's secret", Durability::Flushed).await.unwrap();
    store.put(key("notes", Some(&bob), "diary"), b"bob's", Durability::Flushed).await.unwrap();
    let copy = backend.scan_prefix("notes", &[]).await.unwrap();
    assert_eq!(store.erase_subject(&ann).await.unwrap(), 1);
    for (k, v) in &copy {
        backend.insert("notes", k, v).await.unwrap(); // restore the old bytes, as from a backup
    }
    let err = store.get(key("notes", Some(&ann), "diary")).await.unwrap_err();
    assert!(err.to_string().contains("erased"), "{err}");
    // A new data key for the same person does not open the old bytes either.
    store.put(key("notes", Some(&ann), "new"), b"fresh", Durability::Flushed).await.unwrap();
    assert!(store.get(key("notes", Some(&ann), "diary")).await.is_err());
    assert_eq!(&store.get(key("notes", Some(&bob), "diary")).await.unwrap().unwrap().value[..], b"bob's");
    // Reopening (no cache) gives the same answer.
    drop(store);
    let store = open(&backend, &crate::support::test_key()).await.unwrap();
    assert!(store.get(key("notes", Some(&ann), "diary")).await.is_err());
}

/// Run only as a child of `acknowledged_writes_survive_sigkill`.
#[tokio::test]
#[ignore = "child process of acknowledged_writes_survive_sigkill"]
async fn crash_child() {
    let Some(dir) = std::env::var_os("PALISADE_CRASH_DIR") else {
        return;
    };
    let store = open(&sled(Path::new(&dir)), &crate::support::test_key()).await.unwrap();
    let user = subject("42");
    for i in 0u32.. {
        let id = format!("{i:08}");
        store.put(key("audit", Some(&user), &id), id.as_bytes(), Durability::Flushed).await.unwrap();
        println!("ack {i}");
    }
}

#[tokio::test]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["encryption::crash_child", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env("PALISADE_CRASH_DIR", dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut acked = None;
    for line in std::io::BufReader::new(child.stdout.take().unwrap()).lines() {
        if let Some(n) = line.unwrap().strip_prefix("ack ") {
            acked = Some(n.parse::<u32>().unwrap());
            if acked >= Some(150) {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let acked = acked.expect("the child acknowledged writes");
    let store = open(&sled(dir.path()), &crate::support::test_key()).await.unwrap();
    let user = subject("42");
    for i in 0..=acked {
        let id = format!("{i:08}");
        assert!(store.get(key("audit", Some(&user), &id)).await.unwrap().is_some(), "acknowledged write {i} lost");
    }
}

struct ManualClock(AtomicU64);

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[tokio::test]
async fn retention_removes_only_what_outlived_its_namespace_ttl() {
    let clock = Arc::new(ManualClock(AtomicU64::new(1_000_000)));
    let backend: Arc<dyn Backend> = Arc::new(palisade::store::MemoryBackend::new());
    let store = RecordStore::open(backend, &crate::support::test_key(), clock.clone()).await.unwrap();
    let ann = subject("1");
    store.put(key("notes", Some(&ann), "old"), b"o", Durability::Batched).await.unwrap();
    store.put(key("logs", None, "old"), b"o", Durability::Batched).await.unwrap();
    clock.0.fetch_add(8 * 86_400_000, Ordering::SeqCst);
    store.put(key("notes", Some(&ann), "new"), b"n", Durability::Batched).await.unwrap();
    let ttl = BTreeMap::from([("notes".to_string(), Duration::from_secs(7 * 86_400))]);
    let removed = palisade::store::sweep_expired(&store, &ttl, &*clock).await.unwrap();
    assert_eq!(removed["notes"], 1);
    let left: Vec<_> = store.list("notes", Some(&ann)).await.unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(left, [b"new".to_vec()]);
    assert_eq!(store.list("logs", None).await.unwrap().len(), 1, "no rule, no sweep");
}

#[cfg(unix)]
#[tokio::test]
async fn key_files_are_created_private_and_loose_ones_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys/master.key");
    palisade::store::write_key_file(&path).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    let err = palisade::store::write_key_file(&path).unwrap_err().to_string();
    assert!(err.contains("refusing to overwrite"), "{err}");
    let settings = palisade::config::StoreSettings { master_key_file: Some(path.clone()), ..Default::default() };
    palisade::store::load_master_key(&settings).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = palisade::store::load_master_key(&settings).unwrap_err().to_string();
    assert!(err.contains("mode 644") && err.contains(&format!("chmod 600 {}", path.display())), "{err}");
    std::fs::write(dir.path().join("bad.key"), "not a key").unwrap();
    std::fs::set_permissions(dir.path().join("bad.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let bad =
        palisade::config::StoreSettings { master_key_file: Some(dir.path().join("bad.key")), ..Default::default() };
    assert!(palisade::store::load_master_key(&bad).unwrap_err().to_string().contains("does not hold a key"));
    let missing = palisade::config::StoreSettings::default();
    assert!(palisade::store::load_master_key(&missing).unwrap_err().to_string().contains("palisade keygen"));
    let short =
        palisade::config::StoreSettings { master_key: Some(palisade::Secret::new("AAAA")), ..Default::default() };
    assert!(palisade::store::load_master_key(&short).unwrap_err().to_string().contains("PALISADE__STORE__MASTER_KEY"));
}

#[tokio::test]
async fn records_left_by_an_interrupted_erasure_are_purged() {
    let backend: Arc<dyn Backend> = Arc::new(palisade::store::MemoryBackend::new());
    let store = open(&backend, &crate::support::test_key()).await.unwrap();
    let (ann, bob) = (subject("1"), subject("2"));
    store.put(key("notes", Some(&ann), "a"), b"x", Durability::Batched).await.unwrap();
    store.put(key("notes", Some(&bob), "b"), b"y", Durability::Batched).await.unwrap();
    let copy = backend.scan_prefix("notes", &[]).await.unwrap();
    store.erase_subject(&ann).await.unwrap();
    for (k, v) in &copy {
        backend.insert("notes", k, v).await.unwrap(); // as if deletion had stopped after the key was destroyed
    }
    assert_eq!(store.stats().await.unwrap()[0].unreadable, 1);
    let removed = palisade::store::sweep_expired(&store, &BTreeMap::new(), &TokioClock::new()).await.unwrap();
    assert_eq!(removed.values().sum::<u64>(), 1);
    assert_eq!(store.stats().await.unwrap()[0].unreadable, 0);
    assert_eq!(store.list("notes", Some(&bob)).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_crash_after_switching_the_check_value_finishes_on_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let backend = sled(dir.path());
    let (old, new) = (crate::support::test_key(), Key::generate().unwrap());
    let written = fill(&open(&backend, &old).await.unwrap()).await;
    palisade::store::rotate(&*backend, &old, &new, None).await.unwrap();
    let marker = backend.get("_meta", b"kcv").await.unwrap().unwrap();
    backend.insert("_meta", b"kcv.next", &marker).await.unwrap(); // the marker survived a crash
    assert!(matches!(open(&backend, &new).await, Err(StoreError::RotationInterrupted)));
    palisade::store::rotate(&*backend, &old, &new, None).await.unwrap();
    assert_all_readable(&open(&backend, &new).await.unwrap(), &written).await;
}

/// A refused open must leave the data directory exactly as it was: nothing rewritten, nothing grown.
#[tokio::test]
async fn a_refused_open_with_the_wrong_key_leaves_the_files_as_they_were() {
    let dir = tempfile::tempdir().unwrap();
    let (right, wrong) = (dir.path().join("right.key"), dir.path().join("wrong.key"));
    palisade::store::write_key_file(&right).unwrap();
    palisade::store::write_key_file(&wrong).unwrap();
    let settings = |key: &Path| palisade::config::StoreSettings {
        path: dir.path().join("data"),
        master_key_file: Some(key.to_path_buf()),
        ..Default::default()
    };
    let store = palisade::store::open(&settings(&right), TokioClock::shared()).await.unwrap();
    store.put(key("notes", Some(&subject("1")), "a"), b"kept", Durability::Flushed).await.unwrap();
    drop(store);
    tokio::time::sleep(Duration::from_millis(300)).await; // sled's background flusher lets go
    let before = all_bytes(&dir.path().join("data"));
    let err = palisade::store::open_records(&settings(&wrong), TokioClock::shared()).await.unwrap_err();
    assert!(matches!(err, StoreError::WrongKey), "{err}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = all_bytes(&dir.path().join("data"));
    let sizes = |files: &[(String, Vec<u8>)]| files.iter().map(|(f, b)| (f.clone(), b.len())).collect::<Vec<_>>();
    assert_eq!(sizes(&before), sizes(&after));
    assert!(before == after, "a refused open rewrote the data files");
    let store = palisade::store::open(&settings(&right), TokioClock::shared()).await.unwrap();
    assert!(store.get(key("notes", Some(&subject("1")), "a")).await.unwrap().is_some());
}
