//! The store on real Redis — one server, and a Redis Cluster of three primaries — as several replicas use
//! it: the same answers as sled and memory, nothing readable on the server, everything about one person in
//! one slot, races between replicas settled by the server, erasure seen at once by every replica, and clear
//! errors for a server that is not there or a configuration that is wrong.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use palisade::clock::TokioClock;
use palisade::config::{Loader, RedisSettings};
use palisade::store::{
    Backend, Durability, MemoryBackend, RecordKey, RecordStore, RedisBackend, SharedStore, SledBackend, StoreError,
    Subject,
};
use palisade::{Platform, UserRef};
use palisade_testkit::redis::{RedisCluster, RedisServer};

use crate::support::encodings;

fn subject(id: &str) -> Subject {
    Subject::user(&UserRef::new(Platform::TELEGRAM, id))
}

fn key<'a>(ns: &'a str, s: Option<&'a Subject>, id: &'a str) -> RecordKey<'a> {
    RecordKey { namespace: ns, subject: s, id: id.as_bytes() }
}

pub(crate) fn one_server(url: String) -> RedisSettings {
    RedisSettings { url: Some(url), ..RedisSettings::default() }
}

pub(crate) fn cluster_of(nodes: Vec<String>) -> RedisSettings {
    RedisSettings { nodes, ..RedisSettings::default() }
}

pub(crate) async fn redis(settings: &RedisSettings) -> Arc<dyn Backend> {
    Arc::new(RedisBackend::connect(settings).await.unwrap())
}

pub(crate) async fn store_on(backend: Arc<dyn Backend>) -> SharedStore {
    Arc::new(RecordStore::open(backend, &crate::support::test_key(), TokioClock::shared()).await.unwrap())
}

/// Runs the same operations on a backend and writes down every answer, covering every kind of key the
/// store writes: records about a subject and about nobody, the keyring's own and per-subject entries, links.
async fn transcript(b: &dyn Backend) -> Vec<String> {
    let hash = |n: u8| [n; 32];
    let about = |n: u8, id: u8| [&[1u8][..], &hash(n), &[id; 32]].concat();
    let nobody = |id: u8| [&[0u8][..], &[id; 32]].concat();
    let mut out = Vec::new();
    let mut note = |what: String| out.push(what);
    for (tree, k, v) in [
        ("notes", about(1, 1), "a"),
        ("notes", about(1, 2), "b"),
        ("notes", about(2, 1), "c"),
        ("notes", nobody(9), "d"),
        ("notes", nobody(3), "e"),
        ("core.flows", about(1, 7), "f"),
        ("_keyring", b"index".to_vec(), "g"),
        ("_keyring", [&b"s:"[..], &hash(1)].concat(), "h"),
        ("_keyring", [&b"s:"[..], &hash(2)].concat(), "i"),
        ("_links", hash(2).to_vec(), "j"),
        ("_meta", b"kcv".to_vec(), "k"),
    ] {
        b.insert(tree, &k, v.as_bytes()).await.unwrap();
    }
    note(format!("{:?}", b.get("notes", &about(1, 1)).await));
    note(format!("{:?}", b.get("notes", &about(1, 3)).await));
    note(format!("{:?}", b.get("_keyring", &[&b"s:"[..], &hash(2)].concat()).await));
    b.insert("notes", &about(1, 1), b"a2").await.unwrap();
    note(format!("{:?}", b.get("notes", &about(1, 1)).await));
    note(format!("{:?}", b.insert_if_absent("notes", &about(1, 1), b"x").await));
    note(format!("{:?}", b.insert_if_absent("notes", &about(3, 1), b"new").await));
    note(format!("{:?}", b.insert_if_absent("_keyring", b"system", b"sys").await));
    note(format!("{:?}", b.insert_if_absent("_keyring", b"system", b"other").await));
    note(format!("{:?}", b.remove_if_unchanged("notes", &about(1, 2), b"not b").await));
    note(format!("{:?}", b.remove_if_unchanged("notes", &about(1, 2), b"b").await));
    note(format!("{:?}", b.get("notes", &about(1, 2)).await));
    note(format!("{:?}", b.replace_if_unchanged("notes", &nobody(9), b"not d", b"d2").await));
    note(format!("{:?}", b.replace_if_unchanged("notes", &nobody(9), b"d", b"d2").await));
    note(format!("{:?}", b.replace_if_unchanged("notes", &nobody(4), b"d", b"d2").await));
    note(format!("{:?}", b.remove("notes", &about(2, 1)).await));
    note(format!("{:?}", b.remove("notes", &about(2, 1)).await));
    let tag = [&[1u8][..], &hash(1)].concat();
    for (tree, prefix) in [
        ("notes", &[][..]),
        ("notes", &[1][..]),
        ("notes", &[0][..]),
        ("notes", &tag[..]),
        ("core.flows", &tag[..]),
        ("_keyring", &b""[..]),
        ("_keyring", &b"s:"[..]),
        ("_links", &b""[..]),
        ("absent", &b""[..]),
    ] {
        note(format!("scan {tree} {prefix:?}: {:?}", b.scan_prefix(tree, prefix).await));
    }
    let mut trees = b.trees().await.unwrap();
    trees.sort();
    note(format!("{trees:?}"));
    out
}

#[tokio::test]
async fn redis_and_redis_cluster_answer_exactly_as_memory_and_sled_do() {
    let Some(server) = RedisServer::start("redis_and_redis_cluster_answer_exactly_as_memory_and_sled_do") else {
        return;
    };
    let Some(cluster) = RedisCluster::start("redis_and_redis_cluster_answer_exactly_as_memory_and_sled_do") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let expected = transcript(&MemoryBackend::new()).await;
    assert_eq!(transcript(&SledBackend::open(dir.path()).unwrap()).await, expected, "sled");
    assert_eq!(transcript(&*redis(&one_server(server.url())).await).await, expected, "one Redis server");
    assert_eq!(transcript(&*redis(&cluster_of(cluster.urls())).await).await, expected, "Redis Cluster");
    // A second bot with another key prefix on the same server sees none of the first one's data.
    let other = RedisSettings { key_prefix: "other-bot".into(), ..one_server(server.url()) };
    assert_eq!(redis(&other).await.trees().await.unwrap(), Vec::<String>::new());
}

/// Every key on every node with its type and content (`HGETALL`/`SMEMBERS`), and its `DUMP` (uncompressed).
async fn everything_on(urls: &[String]) -> Vec<(String, Vec<u8>)> {
    let mut found = Vec::new();
    for url in urls {
        let mut c = redis::Client::open(url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
        let () = redis::cmd("CONFIG").arg("SET").arg("rdbcompression").arg("no").query_async(&mut c).await.unwrap();
        let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query_async(&mut c).await.unwrap();
        for k in keys {
            let name = String::from_utf8_lossy(&k).into_owned();
            let kind: String = redis::cmd("TYPE").arg(&k).query_async(&mut c).await.unwrap();
            let mut bytes = k.clone();
            match kind.as_str() {
                "hash" => {
                    let pairs: Vec<(Vec<u8>, Vec<u8>)> =
                        redis::cmd("HGETALL").arg(&k).query_async(&mut c).await.unwrap();
                    pairs.into_iter().for_each(|(f, v)| bytes.extend(f.into_iter().chain(v)));
                }
                "set" => {
                    let members: Vec<Vec<u8>> = redis::cmd("SMEMBERS").arg(&k).query_async(&mut c).await.unwrap();
                    members.into_iter().for_each(|m| bytes.extend(m));
                }
                other => panic!("the store writes only hashes and sets, found a {other} at {name}"),
            }
            let dump: Vec<u8> = redis::cmd("DUMP").arg(&k).query_async(&mut c).await.unwrap();
            bytes.extend(dump);
            found.push((format!("{url} {name}"), bytes));
        }
    }
    found
}

/// The `{s:…}` hash tag in a Redis key, if it has one.
fn person_tag(key: &str) -> Option<String> {
    let start = key.find("{s:")?;
    Some(key[start..=start + key[start..].find('}')?].to_string())
}

#[tokio::test]
async fn a_session_on_a_redis_cluster_leaves_no_identifier_or_text_on_the_servers() {
    let Some(cluster) = RedisCluster::start("a_session_on_a_redis_cluster_leaves_no_identifier_or_text_on_the_servers")
    else {
        return;
    };
    let markers =
        ["90817263544", "username-zq7hX3Lp", "note-text-Kv83LmQwe", "JBSWY3DPEHPK3PXPQ7ZT", "chat-55512349876"];
    let store = store_on(redis(&cluster_of(cluster.urls())).await).await;
    let user = subject(markers[0]);
    store.put(key("profile", Some(&user), "username"), markers[1].as_bytes(), Durability::Flushed).await.unwrap();
    store.put(key("twofactor", Some(&user), "secret"), markers[3].as_bytes(), Durability::Flushed).await.unwrap();
    store.put(key("sessions", Some(&user), markers[4]), b"x", Durability::Flushed).await.unwrap();
    // And through the whole framework: a note saved by the notes plugin in a flow.
    let notes: Vec<Arc<dyn palisade::Plugin>> = vec![Arc::new(palisade_notes::Notes::default())];
    let h = crate::support::Harness::start(notes, store.clone());
    let mut e = crate::support::event(markers[0], &format!("/note {}", markers[2]));
    e.chat.id = markers[4].into();
    h.send(e.clone()).await;
    e.kind = palisade::EventKind::Text("Title".into());
    assert_eq!(h.send(e).await, ["Saved “Title”. /notes lists your notes."]);
    // Someone else, so that erasing the first person has something to leave alone.
    let other = subject("31337");
    store.put(key("profile", Some(&other), "username"), b"someone", Durability::Flushed).await.unwrap();
    h.stop().await;
    // And as a replica runs the whole stack: the person's rate-limit buckets, a step-up grant and the line of
    // turns kept in Redis, and a button id shared with the other replicas (naming the chat it was sent to).
    let probe = crate::support::probe::Probe::shared();
    let bot = crate::support::Harness::bot(vec![probe], store.clone(), replica("a")).await;
    let enrolled = bot.enrol(markers[0]).await;
    assert!(bot.say(markers[0], "/secret x").await[0].starts_with("<code prompt>"));
    assert_eq!(bot.say(markers[0], &bot.code(&enrolled.secret, 1)).await, ["ran secret: x"]);
    let book = palisade::ids::StoreIdBook::new(store.clone());
    palisade::adapter::IdBook::remember(
        &book,
        "0123456789abcdef0123456789abcdef",
        format!("[{}, \"notes:yes\"]", markers[4]).as_bytes(),
    )
    .await
    .unwrap();
    bot.stop().await;

    let before = everything_on(&cluster.urls()).await;
    for namespace in ["core.ratelimit", "core.stepup.grants", "core.buttons"] {
        assert!(before.iter().any(|(name, _)| name.contains(namespace)), "{namespace} is kept in Redis");
    }
    // Positive control: the scan does see what is there in plaintext (namespace names are not personal).
    let control = encodings("twofactor").remove(0);
    assert!(before.iter().any(|(_, b)| b.windows(control.len()).any(|w| w == control)), "the scan sees the keys");
    for marker in markers {
        for form in encodings(marker) {
            for (name, bytes) in &before {
                assert!(!bytes.windows(form.len()).any(|w| w == form), "{marker} found in {name}");
            }
        }
    }

    // Everything about one person shares one slot, so it all lives on one node; erasing them removes it.
    let tags_before: BTreeMap<String, BTreeSet<String>> = before.iter().fold(BTreeMap::new(), |mut m, (name, _)| {
        let (node, key) = name.split_once(' ').unwrap();
        if let Some(tag) = person_tag(key) {
            m.entry(tag).or_default().insert(node.to_string());
        }
        m
    });
    assert!(tags_before.len() >= 2, "two people's data is tagged by person: {tags_before:?}");
    for (tag, nodes) in &tags_before {
        assert_eq!(nodes.len(), 1, "{tag} lives on one node, not {nodes:?}");
    }
    let erased = store.erase_subject(&user).await.unwrap();
    assert!(erased >= 3, "the three records written above at least: {erased}");
    let after = everything_on(&cluster.urls()).await;
    let tags_after: BTreeSet<String> = after.iter().filter_map(|(name, _)| person_tag(name)).collect();
    let gone: Vec<&String> = tags_before.keys().filter(|t| !tags_after.contains(*t)).collect();
    assert_eq!(
        gone.len(),
        1,
        "exactly the erased person's keys are gone: before {tags_before:?}, after {tags_after:?}"
    );
    let survivor = store.get(key("profile", Some(&other), "username")).await.unwrap().unwrap();
    assert_eq!(survivor.value.as_slice(), b"someone");
}

#[tokio::test]
async fn replicas_racing_on_one_redis_agree_on_keys_and_see_erasure_at_once() {
    let Some(server) = RedisServer::start("replicas_racing_on_one_redis_agree_on_keys_and_see_erasure_at_once") else {
        return;
    };
    let settings = one_server(server.url());
    // Two replicas start on an empty server at the same moment: one keyring, whoever wrote first.
    let (a, b) = tokio::join!(async { store_on(redis(&settings).await).await }, async {
        store_on(redis(&settings).await).await
    });
    // Both write the first record of the same new people at the same moment: one data key per person.
    let people: Vec<Subject> = (0..20).map(|i| subject(&format!("77000{i}"))).collect();
    for p in &people {
        let (x, y) = tokio::join!(
            a.put(key("notes", Some(p), "from-a"), b"a", Durability::Flushed),
            b.put(key("notes", Some(p), "from-b"), b"b", Durability::Flushed)
        );
        x.unwrap();
        y.unwrap();
    }
    for p in &people {
        for (reader, name) in [(&a, "a"), (&b, "b")] {
            let mine = reader.list("notes", Some(p)).await.unwrap();
            assert_eq!(mine.len(), 2, "replica {name} reads both replicas' records");
        }
    }
    // Replica a erases someone replica b has just read; b's next write must not use the destroyed key.
    let gone = &people[0];
    assert_eq!(b.list("notes", Some(gone)).await.unwrap().len(), 2);
    assert_eq!(a.erase_subject(gone).await.unwrap(), 2);
    assert!(b.get(key("notes", Some(gone), "from-a")).await.unwrap().is_none(), "b sees the erasure at once");
    b.put(key("notes", Some(gone), "after"), b"new life", Durability::Flushed).await.unwrap();
    let seen = a.get(key("notes", Some(gone), "after")).await.unwrap().unwrap();
    assert_eq!(seen.value.as_slice(), b"new life", "b wrote under a new data key that a can open");
    // A third replica with another master key is refused, as with sled.
    let wrong = palisade::crypto::Key::from_bytes(&[9u8; 32]).unwrap();
    let refused = RecordStore::open(redis(&settings).await, &wrong, TokioClock::shared()).await;
    assert!(matches!(refused, Err(StoreError::WrongKey)), "{refused:?}");
}

#[tokio::test]
async fn a_link_made_on_one_replica_is_followed_by_the_others_after_a_refresh() {
    let Some(server) = RedisServer::start("a_link_made_on_one_replica_is_followed_by_the_others_after_a_refresh")
    else {
        return;
    };
    let settings = one_server(server.url());
    let (a, b) = (store_on(redis(&settings).await).await, store_on(redis(&settings).await).await);
    let (tg, sl) = (subject("tg-5550001"), subject("sl-T0TEAM-U0ANN"));
    a.put(key("notes", Some(&tg), "1"), b"from telegram", Durability::Flushed).await.unwrap();
    a.put(key("notes", Some(&sl), "2"), b"from slack", Durability::Flushed).await.unwrap();
    assert_eq!(b.list("notes", Some(&sl)).await.unwrap().len(), 1);
    // Replica a links the two identities: one person, both notes.
    let linked = a.link_subjects(&sl, &tg, &|_| false).await.unwrap();
    assert!(matches!(linked, palisade::store::Linked::Done { .. }), "{linked:?}");
    assert_eq!(a.list("notes", Some(&sl)).await.unwrap().len(), 2);
    // Replica b still follows the identities it loaded at start until it reads the links again.
    assert!(!b.is_linked(&sl));
    b.refresh().await.unwrap();
    assert!(b.is_linked(&sl) && b.person_id(&sl) == b.person_id(&tg));
    assert_eq!(b.list("notes", Some(&sl)).await.unwrap().len(), 2, "b reads the person's records");
    b.put(key("notes", Some(&sl), "3"), b"written on b", Durability::Flushed).await.unwrap();
    assert_eq!(a.list("notes", Some(&tg)).await.unwrap().len(), 3, "b writes where a reads");
    // Unlinked on a, seen on b after its next refresh.
    assert!(a.unlink_subject(&sl).await.unwrap());
    b.refresh().await.unwrap();
    assert!(!b.is_linked(&sl));
}

pub(crate) fn replica(name: &str) -> palisade::config::Settings {
    let mut settings = palisade::config::Settings::default();
    settings.dispatch.replica = name.into();
    settings
}

#[tokio::test]
async fn a_code_sent_to_two_replicas_at_once_is_accepted_by_one() {
    let Some(server) = RedisServer::start("a_code_sent_to_two_replicas_at_once_is_accepted_by_one") else {
        return;
    };
    let store = store_on(redis(&one_server(server.url())).await).await;
    let a = crate::support::Harness::bot(Vec::new(), store.clone(), replica("a")).await;
    let b =
        crate::support::Harness::bot(Vec::new(), store_on(redis(&one_server(server.url())).await).await, replica("b"))
            .await;
    for n in 0..12 {
        let id = format!("5150{n}");
        let enrolled = a.enrol(&id).await;
        // The next step's code (enrolment used the current one), handed to both replicas at the same moment.
        let code = a.code(&enrolled.secret, 1);
        let user = crate::support::user(&id);
        let (x, y) = tokio::join!(a.stepup().attempt(&user, &code), b.stepup().attempt(&user, &code));
        let mut outcomes = [format!("{:?}", x.unwrap().unwrap()), format!("{:?}", y.unwrap().unwrap())];
        outcomes.sort();
        assert_eq!(outcomes, ["Accepted", "Replayed"], "user {id}: exactly one replica accepts the code");
    }
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn replicas_journal_apart_and_claim_each_delivery_once() {
    let Some(server) = RedisServer::start("replicas_journal_apart_and_claim_each_delivery_once") else {
        return;
    };
    let settings = one_server(server.url());
    let (sa, sb) = (store_on(redis(&settings).await).await, store_on(redis(&settings).await).await);
    let (a, b) = (palisade::journal::Journal::new(sa.clone(), "a"), palisade::journal::Journal::new(sb.clone(), "b"));
    // The same user's events accepted on both replicas: both numbered 1, neither overwrites the other.
    let event = crate::support::event("606", "/echo one");
    let (ta, tb) = (a.accept(&event, 1).await.unwrap(), b.accept(&event, 1).await.unwrap());
    a.flush().await.unwrap();
    b.flush().await.unwrap();
    assert_eq!((ta.seq, tb.seq), (1, 1));
    let (again_a, again_b) =
        (palisade::journal::Journal::new(sa.clone(), "a"), palisade::journal::Journal::new(sb.clone(), "b"));
    assert_eq!(again_a.recover().await.unwrap().len(), 1, "replica a recovers its own entry only");
    assert_eq!(again_b.recover().await.unwrap().len(), 1, "replica b recovers its own entry only");
    a.done(&ta).await;
    assert_eq!(again_a.recover().await.unwrap().len(), 0);
    assert_eq!(again_b.recover().await.unwrap().len(), 1, "b's entry outlives a's");
    // Entries written before a process had a replica name are taken up once it has one.
    let single = crate::support::memory_store().await;
    let unnamed = palisade::journal::Journal::new(single.clone(), "");
    unnamed.accept(&event, 1).await.unwrap();
    unnamed.flush().await.unwrap();
    let named = palisade::journal::Journal::new(single.clone(), "web-1");
    let taken_up = named.recover().await.unwrap();
    assert_eq!(taken_up.len(), 1);
    // Cleared where it was written, once done.
    named.done(&taken_up[0].1).await;
    assert!(palisade::journal::Journal::new(single, "web-1").recover().await.unwrap().is_empty());
    // A delivery handed to both replicas at once (a Slack retry, two Socket Mode connections): one claims it.
    for n in 0..20 {
        let delivery = format!("slack:Ev{n:04}");
        let now = palisade::clock::Clock::now_ms(&*TokioClock::shared());
        let (x, y) = tokio::join!(a.claim(&delivery, now), b.claim(&delivery, now));
        assert!(x.unwrap() ^ y.unwrap(), "{delivery} claimed exactly once");
    }
}

#[tokio::test]
async fn replicas_appending_at_once_extend_one_audit_chain_on_a_cluster() {
    let Some(cluster) = RedisCluster::start("replicas_appending_at_once_extend_one_audit_chain_on_a_cluster") else {
        return;
    };
    let settings = cluster_of(cluster.urls());
    let replicas = [
        palisade::audit::Audit::new(store_on(redis(&settings).await).await, TokioClock::shared()),
        palisade::audit::Audit::new(store_on(redis(&settings).await).await, TokioClock::shared()),
        palisade::audit::Audit::new(store_on(redis(&settings).await).await, TokioClock::shared()),
    ];
    let appends = replicas.iter().enumerate().flat_map(|(r, audit)| {
        (0..25).map(move |i| async move {
            let details = [("replica", r.to_string()), ("n", i.to_string())];
            audit.record("test.append", None, palisade::audit::Outcome::Info, &details).await.unwrap()
        })
    });
    let mut seqs = futures::future::join_all(appends).await;
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=75).collect::<Vec<u64>>(), "every append got its own number");
    for audit in &replicas {
        assert_eq!(audit.verify(Some(75)).await.unwrap(), Vec::new(), "one unbroken chain with its head at the end");
        assert_eq!(audit.length().await.unwrap(), 75);
    }
}

#[tokio::test(start_paused = true)]
async fn a_replica_name_is_held_by_one_process_and_freed_by_a_stop_or_silence() {
    use palisade::replicas::{JoinError, Membership, STALE_AFTER};
    let store = crate::support::memory_store().await;
    let clock = TokioClock::shared();
    let first = Membership::join(store.clone(), clock.clone(), "web-1").await.unwrap();
    let taken = Membership::join(store.clone(), clock.clone(), "web-1").await.unwrap_err();
    assert!(matches!(taken, JoinError::Taken { .. }), "{taken}");
    let shown = taken.to_string();
    assert!(shown.contains("`web-1` is in use") && shown.contains("PALISADE__DISPATCH__REPLICA"), "{shown}");
    Membership::join(store.clone(), clock.clone(), "web-2").await.expect("another name is free");
    // The holder keeps the name while it beats, far longer than the staleness limit.
    let stop = tokio_util::sync::CancellationToken::new();
    let beating = tokio::spawn(first.run(stop.clone()));
    tokio::time::sleep(STALE_AFTER * 3).await;
    assert!(Membership::join(store.clone(), clock.clone(), "web-1").await.is_err(), "held while beating");
    // A stop gives it back at once.
    stop.cancel();
    beating.await.unwrap();
    let second = Membership::join(store.clone(), clock.clone(), "web-1").await.expect("free after a stop");
    // A holder that dies without a word (kill -9: no more heartbeats) frees it after the staleness limit.
    drop(second);
    assert!(Membership::join(store.clone(), clock.clone(), "web-1").await.is_err());
    tokio::time::sleep(STALE_AFTER).await;
    Membership::join(store, clock, "web-1").await.expect("free once the holder went silent");
}

#[tokio::test]
async fn a_redis_that_is_not_there_is_a_clear_error_at_start() {
    // A port nobody listens on: bound and released.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let settings = RedisSettings {
        connect_timeout: std::time::Duration::from_millis(500),
        ..one_server(format!("redis://127.0.0.1:{port}"))
    };
    let started = std::time::Instant::now();
    let e = RedisBackend::connect(&settings).await.unwrap_err().to_string();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "refused quickly, not after {:?}",
        started.elapsed()
    );
    assert!(e.contains(&format!("127.0.0.1:{port}")), "names the address: {e}");
    assert!(e.contains("is Redis running there"), "says what to check: {e}");
    let cluster = cluster_of(vec![format!("redis://127.0.0.1:{port}")]);
    let e = RedisBackend::connect(&RedisSettings { connect_timeout: settings.connect_timeout, ..cluster })
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains(&format!("127.0.0.1:{port}")), "names the node: {e}");
}

#[tokio::test]
async fn a_cluster_named_as_one_server_and_the_reverse_are_explained() {
    let Some(server) = RedisServer::start("a_cluster_named_as_one_server_and_the_reverse_are_explained") else {
        return;
    };
    let e = RedisBackend::connect(&cluster_of(vec![server.url()])).await.unwrap_err().to_string();
    assert!(e.contains("not a cluster") || e.contains("cluster support disabled"), "{e}");
}

#[test]
fn the_redis_settings_are_checked_key_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let load = |text: &str| {
        let path = dir.path().join("bot.toml");
        std::fs::write(&path, text).unwrap();
        Loader::new(&path).with_env(HashMap::new()).load()
    };
    let problems = |text: &str| {
        let e = load(text).unwrap_err();
        e.problems.iter().map(|p| format!("{}: {}", p.key.as_deref().unwrap_or("-"), p.message)).collect::<Vec<_>>()
    };
    let p = problems("[store]\nbackend = \"redis\"\n");
    assert!(p.iter().any(|p| p.starts_with("store.redis.url:") && p.contains("nodes")), "{p:?}");
    let p = problems(
        "[store]\nbackend = \"redis\"\n[store.redis]\nurl = \"redis://a:6379\"\nnodes = [\"redis://b:6379\"]\n",
    );
    assert!(p.iter().any(|p| p.starts_with("store.redis.nodes:") && p.contains("not both")), "{p:?}");
    let p = problems("[store]\nbackend = \"redis\"\n[store.redis]\nurl = \"redis://:hunter2@a:6379\"\n");
    assert!(
        p.iter().any(|p| p.starts_with("store.redis.url:") && p.contains("PALISADE__STORE__REDIS__PASSWORD")),
        "{p:?}"
    );
    assert!(!p.iter().any(|p| p.contains("hunter2")), "the password is not repeated: {p:?}");
    let p =
        problems("[store]\nbackend = \"redis\"\n[store.redis]\nnodes = [\"http://a:6379\"]\nkey_prefix = \"a b\"\n");
    assert!(p.iter().any(|p| p.starts_with("store.redis.nodes[0]:") && p.contains("rediss://")), "{p:?}");
    assert!(p.iter().any(|p| p.starts_with("store.redis.key_prefix:")), "{p:?}");
    let p = problems("[store.redis]\nurl = \"redis://a:6379\"\n");
    assert!(p.iter().any(|p| p.starts_with("store.redis:") && p.contains("backend")), "{p:?}");
    let p = problems("[store]\nbackend = \"redis\"\n[store.redis]\nurl = \"redis://a:6379\"\n");
    assert!(p.iter().any(|p| p.starts_with("dispatch.replica:") && p.contains("PALISADE__DISPATCH__REPLICA")), "{p:?}");
    let ok = load(
        "[dispatch]\nreplica = \"web-1\"\n[store]\nbackend = \"redis\"\n[store.redis]\nnodes = [\"rediss://a:7000\", \"rediss://b:7000\"]\n",
    );
    assert!(ok.is_ok(), "{:?}", ok.err().map(|e| e.to_string()));
}
