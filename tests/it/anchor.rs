//! The store's anchor: a store that lost flushed writes (its files damaged or replaced by an older copy) is
//! refused with a message that says what to do; `accept_loss` goes on knowingly; the audit trail must reach
//! the head the anchor recorded (or `--expect-seq`); an append interrupted by a crash is never overwritten.

use std::path::Path;
use std::sync::Arc;

use palisade::audit::{Audit, Finding, Outcome};
use palisade::clock::TokioClock;
use palisade::store::{Backend, Durability, RecordKey, RecordStore, SharedStore, SledBackend, Store, StoreError};

use crate::support::{memory_store, test_key};

async fn open(dir: &Path) -> Result<SharedStore, StoreError> {
    let backend = Arc::new(SledBackend::open(&dir.join("db"))?);
    let store = RecordStore::open_anchored(backend, &test_key(), TokioClock::shared(), &dir.join("anchor")).await?;
    Ok(Arc::new(store))
}

fn note(id: &str) -> RecordKey<'_> {
    RecordKey { namespace: "notes", subject: None, id: id.as_bytes() }
}

/// A copy of the sled files alone (not the anchor), as a backup of the data directory made too early.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test]
async fn a_store_behind_its_anchor_is_refused_until_the_loss_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let older = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path()).await.unwrap();
        store.put(note("a"), b"first", Durability::Flushed).await.unwrap();
        drop(store);
        copy_dir(&dir.path().join("db"), older.path());
        let store = open(dir.path()).await.unwrap();
        store.put(note("b"), b"a confirmed transfer", Durability::Flushed).await.unwrap();
        store.put(note("c"), b"another one", Durability::Flushed).await.unwrap();
    }
    // The sled files go back to the older copy; the anchor remembers the two later writes.
    std::fs::remove_dir_all(dir.path().join("db")).unwrap();
    copy_dir(older.path(), &dir.path().join("db"));
    let refused = open(dir.path()).await.err().expect("a store that lost confirmed writes is refused");
    assert!(matches!(refused, StoreError::LostWrites { anchored, stored, .. } if anchored > stored), "{refused}");
    let text = refused.to_string();
    assert!(text.contains("backup") && text.contains("palisade store accept-loss"), "{text}");

    // Going on knowingly: re-anchored where the store is, and it opens again from then on.
    let backend = Arc::new(SledBackend::open(&dir.path().join("db")).unwrap());
    let (store, accepted) =
        RecordStore::accept_loss(backend, &test_key(), TokioClock::shared(), &dir.path().join("anchor")).await.unwrap();
    assert!(accepted.anchored.unwrap().writes > accepted.stored);
    assert!(store.get(note("a")).await.unwrap().is_some() && store.get(note("b")).await.unwrap().is_none());
    drop(store);
    let store = open(dir.path()).await.unwrap();
    assert!(store.get(note("a")).await.unwrap().is_some());
}

#[tokio::test]
async fn flushes_that_do_not_wait_for_the_anchor_are_anchored_a_moment_later_many_with_one_write() {
    let dir = tempfile::tempdir().unwrap();
    let older = tempfile::tempdir().unwrap();
    open(dir.path()).await.unwrap().put(note("a"), b"first", Durability::Flushed).await.unwrap();
    copy_dir(&dir.path().join("db"), older.path());

    let backend = Arc::new(SledBackend::open(&dir.path().join("db")).unwrap());
    let store = RecordStore::open_anchored(backend, &test_key(), TokioClock::shared(), &dir.path().join("anchor"))
        .await
        .unwrap();
    let anchor = store.anchor().unwrap();
    let (writes, file_writes) = (anchor.state().writes, anchor.file_writes());
    let started = tokio::time::Instant::now();
    for i in 0..40 {
        store.put(note(&format!("n{i}")), b"accepted", Durability::Batched).await.unwrap();
        store.flush_anchor_later().await.unwrap();
    }
    let flushed = started.elapsed();
    // Every flush is recorded by the anchor a moment later …
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while anchor.state().writes < writes + 40 {
        assert!(tokio::time::Instant::now() < deadline, "the anchor never recorded the flushes");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    // … with at most one write of its file per TRAIL (and one at once after the last), not one per flush.
    let allowed = 2 + u64::try_from(flushed.as_millis() / palisade::store::anchor::TRAIL.as_millis()).unwrap();
    let made = anchor.file_writes() - file_writes;
    assert!((1..=allowed).contains(&made), "{made} anchor writes for 40 flushes in {flushed:?}");
    // A flush that waits for the anchor finds it written when it returns.
    store.put(note("transfer"), b"confirmed", Durability::Flushed).await.unwrap();
    assert_eq!(anchor.state().writes, writes + 41);
    drop(store);

    // What the anchor recorded is what it guards: the sled files put back to before those flushes are refused.
    std::fs::remove_dir_all(dir.path().join("db")).unwrap();
    copy_dir(older.path(), &dir.path().join("db"));
    let refused = open(dir.path()).await.err().expect("a store that lost the flushed writes is refused");
    assert!(matches!(refused, StoreError::LostWrites { anchored, stored, .. } if anchored >= stored + 41), "{refused}");
}

#[tokio::test]
async fn a_store_closed_before_its_anchor_caught_up_opens_again_with_every_flushed_write() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..3 {
        let store = open(dir.path()).await.unwrap();
        for i in 0..5 {
            store.put(note(&format!("r{round}n{i}")), b"accepted", Durability::Batched).await.unwrap();
            store.flush_anchor_later().await.unwrap();
        }
        // Closed at once: the anchor's write still planned is dropped with the store (it is behind, not ahead).
    }
    let store = open(dir.path()).await.expect("a store ahead of its anchor opens");
    for round in 0..3 {
        for i in 0..5 {
            assert!(store.get(note(&format!("r{round}n{i}"))).await.unwrap().is_some(), "r{round}n{i}");
        }
    }
}

#[tokio::test]
async fn a_missing_or_forged_anchor_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    open(dir.path()).await.unwrap().put(note("a"), b"x", Durability::Flushed).await.unwrap();
    let anchor = dir.path().join("anchor");
    let saved = std::fs::read(&anchor).unwrap();
    std::fs::remove_file(&anchor).unwrap();
    let missing = open(dir.path()).await.err().expect("an anchored store without its anchor is refused").to_string();
    assert!(missing.contains("is missing") && missing.contains("accept-loss"), "{missing}");
    let forged = String::from_utf8(saved).unwrap().replace("\"writes\":", "\"writes\":9");
    std::fs::write(&anchor, forged).unwrap();
    let altered = open(dir.path()).await.err().expect("a forged anchor is refused").to_string();
    assert!(altered.contains("was not written with this key or was altered"), "{altered}");
}

#[tokio::test]
async fn an_audit_trail_rolled_back_behind_its_anchor_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await.unwrap();
    let audit = Audit::new(store.clone(), TokioClock::shared());
    for _ in 0..3 {
        audit.record("test.event", None, Outcome::Info, &[]).await.unwrap();
    }
    drop((audit, store));
    // Someone with the files keeps the trail's records as they are after entry 3 …
    let backend = SledBackend::open(&dir.path().join("db")).unwrap();
    let at_three = backend.scan_prefix("core.audit", &[]).await.unwrap();
    drop(backend);
    let store = open(dir.path()).await.unwrap();
    let audit = Audit::new(store.clone(), TokioClock::shared());
    for _ in 0..2 {
        audit.record("test.event", None, Outcome::Info, &[]).await.unwrap();
    }
    drop((audit, store));
    // … and puts them back: a shorter chain that is intact in itself.
    let backend = SledBackend::open(&dir.path().join("db")).unwrap();
    for (key, _) in backend.scan_prefix("core.audit", &[]).await.unwrap() {
        backend.remove("core.audit", &key).await.unwrap();
    }
    for (key, value) in &at_three {
        backend.insert("core.audit", key, value).await.unwrap();
    }
    backend.flush().await.unwrap();
    drop(backend);
    let store = open(dir.path()).await.unwrap();
    let audit = Audit::new(store, TokioClock::shared());
    assert_eq!(
        audit.verify(None).await.unwrap(),
        [Finding::Behind { expected: 5, head: 3, source: "the store's anchor" }]
    );
}

#[tokio::test]
async fn the_operator_can_expect_a_sequence_number() {
    let store = memory_store().await;
    let audit = Audit::new(store, TokioClock::shared());
    for _ in 0..4 {
        audit.record("test.event", None, Outcome::Info, &[]).await.unwrap();
    }
    assert!(audit.verify(Some(4)).await.unwrap().is_empty());
    let found = audit.verify(Some(6)).await.unwrap();
    assert_eq!(found, [Finding::Behind { expected: 6, head: 4, source: "--expect-seq" }]);
    assert!(found[0].to_string().contains("the chain ends at entry 4 but --expect-seq knows of entry 6"));
}

#[tokio::test]
async fn an_append_interrupted_before_its_head_is_adopted_not_overwritten() {
    let store = memory_store().await;
    let audit = Audit::new(store.clone(), TokioClock::shared());
    for _ in 0..3 {
        audit.record("test.event", None, Outcome::Info, &[]).await.unwrap();
    }
    let head = RecordKey { namespace: "core.audit", subject: None, id: b"head" };
    let head_at_three = store.get(head).await.unwrap().unwrap().value.to_vec();
    audit.record("bank.transfer", None, Outcome::Success, &[]).await.unwrap();
    // The crash: entry 4 written, its head not.
    store.put(head, &head_at_three, Durability::Flushed).await.unwrap();
    let seq = audit.record("test.after", None, Outcome::Info, &[]).await.unwrap();
    assert_eq!(seq, 5, "appended after the entry the crash left");
    let events: Vec<String> = audit.entries_since(0).await.unwrap().into_iter().map(|e| e.event).collect();
    assert_eq!(events[3..], ["bank.transfer", "test.after"]);
    assert!(audit.verify(None).await.unwrap().is_empty());

    // A damaged entry past the head is kept where it is and reported.
    let head_at_five = store.get(head).await.unwrap().unwrap().value.to_vec();
    let six = RecordKey { namespace: "core.audit", subject: None, id: b"e0000000000000006" };
    store.put(six, b"{half an entr", Durability::Flushed).await.unwrap();
    store.put(head, &head_at_five, Durability::Flushed).await.unwrap();
    assert_eq!(audit.record("test.later", None, Outcome::Info, &[]).await.unwrap(), 7);
    assert_eq!(audit.verify(None).await.unwrap(), [Finding::Unreadable(6)]);
}
