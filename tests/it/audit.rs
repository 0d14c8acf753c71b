//! The audit trail detects every kind of tampering at the right entry, survives restarts, and exports.

use std::sync::Arc;

use palisade::audit::{Audit, Finding, Outcome};
use palisade::clock::TokioClock;
use palisade::store::{Backend, Durability, RecordKey, RecordStore, SharedStore, SledBackend};
use palisade::{Platform, UserRef};

fn ann() -> UserRef {
    UserRef::new(Platform::TELEGRAM, "5550001234")
}

async fn trail(store: &SharedStore, n: u64) -> Arc<Audit> {
    let audit = Audit::new(store.clone(), TokioClock::shared());
    for i in 1..=n {
        let seq = audit.record("test.event", Some(&ann()), Outcome::Success, &[("n", i.to_string())]).await.unwrap();
        assert_eq!(seq, i);
    }
    audit
}

fn id(seq: u64) -> String {
    format!("e{seq:016}")
}

fn key(id: &str) -> RecordKey<'_> {
    RecordKey { namespace: "core.audit", subject: None, id: id.as_bytes() }
}

async fn raw(store: &SharedStore, seq: u64) -> Vec<u8> {
    store.get(key(&id(seq))).await.unwrap().unwrap().value.to_vec()
}

async fn put(store: &SharedStore, seq: u64, bytes: &[u8]) {
    store.put(key(&id(seq)), bytes, Durability::Flushed).await.unwrap();
}

#[tokio::test]
async fn a_clean_chain_verifies_after_a_restart_and_holds_no_identifiers() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = crate::support::sled_store(dir.path()).await;
        trail(&store, 5).await.verify(None).await.unwrap();
    }
    let store = crate::support::sled_store(dir.path()).await;
    let audit = Audit::new(store.clone(), TokioClock::shared());
    assert_eq!(audit.verify(None).await.unwrap(), Vec::<Finding>::new());
    assert_eq!(audit.record("after.restart", None, Outcome::Info, &[]).await.unwrap(), 6);
    assert!(audit.verify(None).await.unwrap().is_empty());
    let entries = audit.entries_since(0).await.unwrap();
    assert_eq!(entries.len(), 6);
    let json = serde_json::to_string(&entries).unwrap();
    assert!(!json.contains("5550001234"), "the actor is a pseudonym: {json}");
    assert_eq!(entries[0].actor, Some(audit.pseudonym(&ann()).await.unwrap()));
}

#[tokio::test]
async fn a_changed_entry_is_named() {
    let store = crate::support::memory_store().await;
    let audit = trail(&store, 5).await;
    let mut entry: serde_json::Value = serde_json::from_slice(&raw(&store, 3).await).unwrap();
    entry["details"]["n"] = "300".into();
    put(&store, 3, &serde_json::to_vec(&entry).unwrap()).await;
    assert_eq!(audit.verify(None).await.unwrap(), [Finding::Altered(3)]);
}

#[tokio::test]
async fn a_flipped_byte_on_disk_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let backend: Arc<dyn Backend> = Arc::new(SledBackend::open(dir.path()).unwrap());
    let store: SharedStore =
        Arc::new(RecordStore::open(backend.clone(), &crate::support::test_key(), TokioClock::shared()).await.unwrap());
    let audit = trail(&store, 4).await;
    // Find entry 2's stored bytes: the only record whose sealed value changes when entry 2 is rewritten.
    let before = backend.scan_prefix("core.audit", &[]).await.unwrap();
    put(&store, 2, &raw(&store, 2).await).await;
    let after = backend.scan_prefix("core.audit", &[]).await.unwrap();
    let (k, mut v) = after.into_iter().find(|(k, v)| before.iter().any(|(bk, bv)| bk == k && bv != v)).unwrap();
    let last = v.len() - 1;
    v[last] ^= 0x80;
    backend.insert("core.audit", &k, &v).await.unwrap();
    assert_eq!(audit.verify(None).await.unwrap(), [Finding::Unreadable(2)]);
}

#[tokio::test]
async fn a_removed_entry_is_named() {
    let store = crate::support::memory_store().await;
    let audit = trail(&store, 5).await;
    store.delete(key(&id(3)), Durability::Flushed).await.unwrap();
    assert_eq!(audit.verify(None).await.unwrap(), [Finding::Missing(3)]);
}

#[tokio::test]
async fn swapped_entries_are_named() {
    let store = crate::support::memory_store().await;
    let audit = trail(&store, 5).await;
    let (two, three) = (raw(&store, 2).await, raw(&store, 3).await);
    put(&store, 2, &three).await;
    put(&store, 3, &two).await;
    assert_eq!(audit.verify(None).await.unwrap(), [Finding::BrokenLink(2)]);
}

#[tokio::test]
async fn an_inserted_forgery_is_named() {
    let store = crate::support::memory_store().await;
    let audit = trail(&store, 5).await;
    // Shift entries 3..5 up by one and put a forged entry (copied from 2, renumbered) at 3.
    for seq in (3..=5).rev() {
        let moved = raw(&store, seq).await;
        put(&store, seq + 1, &moved).await;
    }
    let mut forged: serde_json::Value = serde_json::from_slice(&raw(&store, 2).await).unwrap();
    forged["seq"] = 3.into();
    forged["event"] = "admin.reset".into();
    put(&store, 3, &serde_json::to_vec(&forged).unwrap()).await;
    assert_eq!(audit.verify(None).await.unwrap(), [Finding::Altered(3)]);
}

#[tokio::test]
async fn a_cut_tail_is_named() {
    let store = crate::support::memory_store().await;
    let audit = trail(&store, 5).await;
    store.delete(key(&id(5)), Durability::Flushed).await.unwrap();
    assert_eq!(audit.verify(None).await.unwrap(), [Finding::Truncated { head: 5, last: 4 }]);
}

#[tokio::test]
async fn entries_written_past_the_head_are_whole_and_adopted() {
    // An append caught between its entry and its head (a crash, or a backup taken in between): the head
    // still names entry 5 while entry 6 is there, linked. Nothing is missing, and the next append adopts it.
    let store = crate::support::memory_store().await;
    let audit = trail(&store, 5).await;
    let head_at_5 = store.get(key("head")).await.unwrap().unwrap().value.to_vec();
    assert_eq!(audit.record("caught.between", None, Outcome::Info, &[]).await.unwrap(), 6);
    store.put(key("head"), &head_at_5, Durability::Flushed).await.unwrap();
    let fresh = Audit::new(store.clone(), TokioClock::shared());
    assert_eq!(fresh.verify(None).await.unwrap(), Vec::<Finding>::new());
    assert_eq!(fresh.record("after", None, Outcome::Info, &[]).await.unwrap(), 7);
    assert_eq!(fresh.verify(Some(7)).await.unwrap(), Vec::<Finding>::new());
}
