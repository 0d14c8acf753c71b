//! One test body run against every backend, as the `Store` contract promises the same behaviour from each.

use palisade::store::{Durability, RecordKey, SharedStore, Store, Subject};
use palisade::{Platform, UserRef};
use std::sync::Arc;

use crate::support::backend::Observed;

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

    // Parts: sealed under their person's key, bound to namespace and context; shredded by an erasure.
    let (part, other) = (
        store.seal_part("notes", &ann, b"j0001", b"ann's event").await.unwrap(),
        store.seal_part("notes", &anna, b"j0002", b"anna's event").await.unwrap(),
    );
    assert!(!part.windows(11).any(|w| w == b"ann's event"), "a part is sealed");
    assert_eq!(store.open_part("notes", b"j0001", &part).await.unwrap().as_slice(), b"ann's event");
    assert!(store.open_part("notes", b"j0002", &part).await.is_err(), "opens only at its own context");
    assert!(store.open_part("bank", b"j0001", &part).await.is_err(), "and only in its namespace");
    let mut flipped = part.clone();
    *flipped.last_mut().unwrap() ^= 1;
    assert!(store.open_part("notes", b"j0001", &flipped).await.is_err(), "an altered part does not open");
    assert!(store.open_part("notes", b"j0001", &part[..16]).await.is_err(), "nor a cut one");

    assert_eq!(store.erase_subject(&ann).await.unwrap(), 2, "one note and the bank record");
    let shredded = store.open_part("notes", b"j0001", &part).await.unwrap_err().to_string();
    assert!(shredded.contains("erased"), "{shredded}");
    assert_eq!(store.open_part("notes", b"j0002", &other).await.unwrap().as_slice(), b"anna's event");
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

/// Linking subjects, on the sled store, across a reopen: records move to the person and read the same
/// through either subject; clashes in plugin data refuse the link and change nothing, clashes in the core's
/// own records keep the person's; erasing through one subject erases the person; unlinking splits off an
/// empty subject; a link entry altered on disk is ignored (the subject stands alone), never followed.
#[tokio::test]
async fn linked_subjects_are_one_person_until_unlinked() {
    use palisade::store::Linked;
    palisade_testkit::logs::capture();
    let dir = tempfile::tempdir().unwrap();
    let store = palisade_testkit::sled_store(dir.path()).await;
    let (tg, sl, dc) = (subject("100"), Subject::user(&UserRef::new(Platform::SLACK, "T1/U1")), subject("300"));
    store.put(key("notes", Some(&tg), "n1"), b"tg-note", Durability::Flushed).await.unwrap();
    store.put(key("notes", Some(&sl), "n2"), b"sl-note", Durability::Flushed).await.unwrap();
    store.put(key("core.stepup", Some(&tg), "enrolment"), b"tg-2fa", Durability::Flushed).await.unwrap();
    store.put(key("core.stepup", Some(&sl), "enrolment"), b"sl-2fa", Durability::Flushed).await.unwrap();
    let core_only = |ns: &str| ns.starts_with("core.");
    let linked = store.link_subjects(&sl, &tg, &core_only).await.unwrap();
    assert_eq!(linked, Linked::Done { moved: 3, dropped: vec!["core.stepup".into()] });
    for s in [&tg, &sl] {
        let notes: Vec<Vec<u8>> =
            store.list("notes", Some(s)).await.unwrap().into_iter().map(|r| r.value.to_vec()).collect();
        assert_eq!(notes, [b"tg-note".to_vec(), b"sl-note".to_vec()]);
        let twofa = store.get(key("core.stepup", Some(s), "enrolment")).await.unwrap().unwrap();
        assert_eq!(twofa.value.as_slice(), b"tg-2fa", "the person's own enrolment stays");
    }
    assert_eq!(store.person_id(&tg), store.person_id(&sl));
    assert_eq!(store.link_subjects(&sl, &tg, &core_only).await.unwrap(), Linked::Already);

    // A clash in plugin data: nothing changes.
    store.put(key("bank", Some(&dc), "acct"), b"dc-acct", Durability::Flushed).await.unwrap();
    store.put(key("bank", Some(&tg), "acct"), b"person-acct", Durability::Flushed).await.unwrap();
    assert_eq!(store.link_subjects(&dc, &tg, &core_only).await.unwrap(), Linked::Conflicts(vec!["bank".into()]));
    assert_eq!(store.get(key("bank", Some(&dc), "acct")).await.unwrap().unwrap().value.as_slice(), b"dc-acct");
    assert_ne!(store.person_id(&dc), store.person_id(&tg));
    assert_eq!(store.link_subjects(&tg, &dc, &core_only).await.unwrap(), Linked::Elsewhere);

    // The link survives a reopen.
    drop(store);
    let store = palisade_testkit::sled_store(dir.path()).await;
    assert_eq!(store.list("notes", Some(&sl)).await.unwrap().len(), 2);

    // Unlinking: the person keeps everything, the subject starts empty.
    assert!(store.unlink_subject(&sl).await.unwrap());
    assert!(store.list("notes", Some(&sl)).await.unwrap().is_empty());
    assert_eq!(store.list("notes", Some(&tg)).await.unwrap().len(), 2);
    assert!(!store.unlink_subject(&sl).await.unwrap());

    // Erasing through one linked subject erases the person, and every link to it.
    assert!(matches!(store.link_subjects(&sl, &tg, &core_only).await.unwrap(), Linked::Done { .. }));
    assert_eq!(store.erase_subject(&sl).await.unwrap(), 4, "two notes, the enrolment, the account");
    for s in [&tg, &sl] {
        assert!(store.list("notes", Some(s)).await.unwrap().is_empty());
    }
    assert_ne!(store.person_id(&tg), store.person_id(&sl), "the links went with the person");

    // A link altered on disk is not followed.
    assert!(matches!(store.link_subjects(&sl, &dc, &core_only).await.unwrap(), Linked::Done { .. }));
    drop(store);
    {
        let raw = sled::open(dir.path()).unwrap();
        let links = raw.open_tree("_links").unwrap();
        for entry in links.iter() {
            let (k, mut v) = entry.map(|(k, v)| (k, v.to_vec())).unwrap();
            v[0] ^= 1;
            links.insert(k, v).unwrap();
        }
        raw.flush().unwrap();
    }
    let store = palisade_testkit::sled_store(dir.path()).await;
    assert_ne!(store.person_id(&sl), store.person_id(&dc));
    assert!(store.list("bank", Some(&sl)).await.unwrap().is_empty(), "dc's account is not reachable through sl");
    assert!(palisade_testkit::logs::text().contains("a subject link does not open"));
}

/// A new person's data key is durable before anything sealed with it: on a backend that recovers in order
/// (sled) by the flush that makes that record durable, elsewhere by a flush of its own.
#[tokio::test]
async fn a_new_data_key_is_flushed_on_its_own_only_where_recovery_is_not_in_order() {
    for in_order in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let backend = Arc::new(Observed::new(dir.path(), in_order));
        let store = palisade::store::RecordStore::open(
            backend.clone(),
            &palisade_testkit::stores::test_key(),
            palisade::clock::TokioClock::shared(),
        )
        .await
        .unwrap();
        let flushes = || backend.flushes.load(std::sync::atomic::Ordering::SeqCst);
        let opened = flushes();
        let ann = subject("ann");
        store.put(key("notes", Some(&ann), "a"), b"first", Durability::Batched).await.unwrap();
        assert_eq!(flushes() - opened, usize::from(!in_order), "in order: {in_order}");
        store.put(key("notes", Some(&ann), "b"), b"second", Durability::Flushed).await.unwrap();
        drop(store);
        drop(backend);
        let reopened = crate::support::sled_store(dir.path()).await;
        let got = reopened.get(key("notes", Some(&ann), "a")).await.unwrap().unwrap();
        assert_eq!(got.value.as_slice(), b"first");
    }
}
