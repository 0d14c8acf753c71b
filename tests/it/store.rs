//! One test body run against every backend, as the `Store` contract promises the same behaviour from each.

use palisade::store::{Durability, RecordKey, SharedStore, Subject};
use palisade::{Platform, UserRef};

fn subject(id: &str) -> Subject {
    Subject::user(&UserRef::new(Platform::TELEGRAM, id))
}

fn key<'a>(ns: &'a str, s: Option<&'a Subject>, id: &'a str) -> RecordKey<'a> {
    RecordKey { namespace: ns, subject: s, id: id.as_bytes() }
}

async fn contract(store: SharedStore) {
    let (ann, anna) = (subject("1"), subject("12"));
    store.put(key("notes", Some(&ann), "a"), b"ann-a", Durability::Batched).await.unwrap();
    store.put(key("notes", Some(&ann), "b"), b"ann-b", Durability::Flushed).await.unwrap();
    store.put(key("notes", Some(&anna), "a"), b"anna-a", Durability::Batched).await.unwrap();
    store.put(key("bank", Some(&ann), "acct"), b"ann-acct", Durability::Batched).await.unwrap();
    store.put(key("settings", None, "motd"), b"hello", Durability::Batched).await.unwrap();

    let got = store.get(key("notes", Some(&ann), "a")).await.unwrap().unwrap();
    assert_eq!((got.id.as_slice(), got.value.as_slice()), (&b"a"[..], &b"ann-a"[..]));
    assert!(store.get(key("notes", Some(&ann), "zz")).await.unwrap().is_none());

    // Listing is per subject: a subject whose id is a prefix of another's sees only its own records.
    let listed: Vec<Vec<u8>> =
        store.list("notes", Some(&ann)).await.unwrap().into_iter().map(|r| r.value.to_vec()).collect();
    assert_eq!(listed, [b"ann-a".to_vec(), b"ann-b".to_vec()]);
    assert_eq!(store.list("notes", Some(&anna)).await.unwrap().len(), 1);
    assert_eq!(store.list("settings", None).await.unwrap().len(), 1);
    assert_eq!(store.scan("notes").await.unwrap().len(), 3);

    store.put(key("notes", Some(&ann), "a"), b"ann-a2", Durability::Batched).await.unwrap();
    assert_eq!(store.get(key("notes", Some(&ann), "a")).await.unwrap().unwrap().value.as_slice(), b"ann-a2");

    assert!(store.delete(key("notes", Some(&ann), "b"), Durability::Flushed).await.unwrap());
    assert!(!store.delete(key("notes", Some(&ann), "b"), Durability::Flushed).await.unwrap());

    assert_eq!(store.erase_subject(&ann).await.unwrap(), 2, "one note and the bank record");
    assert!(store.list("notes", Some(&ann)).await.unwrap().is_empty());
    assert!(store.list("bank", Some(&ann)).await.unwrap().is_empty());
    assert_eq!(store.list("notes", Some(&anna)).await.unwrap().len(), 1, "the other subject is untouched");

    let mut stats = store.stats().await.unwrap();
    stats.sort_by(|a, b| a.namespace.cmp(&b.namespace));
    let counts: Vec<(String, u64)> = stats.into_iter().map(|s| (s.namespace, s.records)).collect();
    assert_eq!(counts, [("notes".to_string(), 1), ("settings".to_string(), 1)]);

    assert!(store.put(key("Bad/NS", None, "x"), b"", Durability::Batched).await.is_err());
    store.flush().await.unwrap();
}

#[tokio::test]
async fn memory_backend_keeps_the_contract() {
    contract(crate::support::memory_store().await).await;
}

#[tokio::test]
async fn sled_backend_keeps_the_contract_and_persists() {
    let dir = tempfile::tempdir().unwrap();
    contract(crate::support::sled_store(dir.path()).await).await;
    let reopened = crate::support::sled_store(dir.path()).await;
    assert_eq!(reopened.get(key("settings", None, "motd")).await.unwrap().unwrap().value.as_slice(), b"hello");
}

#[test]
fn a_locked_data_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let _first = palisade::store::SledBackend::open(dir.path()).unwrap();
    let err = palisade::store::SledBackend::open(dir.path()).unwrap_err().to_string();
    assert!(err.contains(&dir.path().display().to_string()), "{err}");
    assert!(err.contains("another palisade process"), "{err}");
}
