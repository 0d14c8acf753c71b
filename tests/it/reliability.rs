//! Floods, shutdowns and crashes: one user cannot stall the others, a conversation's backlog is bounded,
//! shutdown takes bounded time, events acknowledged before a kill -9 are answered exactly once after the
//! restart, and a delivery seen before a restart is not handled again.

use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::support::probe::Probe;
use crate::support::{Harness, event, memory_store, sled_store, text_of};
use palisade::adapter::{Capabilities, Outbox, SendError};
use palisade::config::{DispatchSettings, Settings};
use palisade::event::{MessageId, Platform};
use palisade::reply::Reply;
use palisade::{Dispatcher, Envelope};

#[tokio::test(start_paused = true)]
async fn a_flooding_user_is_limited_at_intake_and_cannot_delay_another() {
    let h = Harness::bot(vec![Probe::shared()], memory_store().await, Settings::default()).await;
    // 1,100 commands at once, as fast as the adapter can submit them: each is accepted (the platform gets
    // its 200) but only the rate limit's worth is queued.
    let flooder = {
        let sink = h.sink.clone();
        tokio::spawn(async move {
            for n in 0..1100 {
                sink.submit(event("flooder", &format!("/args {n} x"))).await.unwrap();
            }
        })
    };
    tokio::task::yield_now().await;
    let started = tokio::time::Instant::now();
    h.sink.submit_and_wait(event("neighbour", "/args c d")).await.unwrap();
    let waited = started.elapsed();
    flooder.await.unwrap();
    assert!(waited <= Duration::from_secs(2), "the neighbour waited {waited:?}");
    // Let whatever the flooder got through finish, then count what it got.
    tokio::time::sleep(Duration::from_secs(30)).await;
    let texts: Vec<String> = h.captured.take().iter().map(text_of).collect();
    assert!(texts.iter().any(|t| t == "first=c rest=d"), "the neighbour was answered: {texts:?}");
    let per_user = Settings::default().ratelimit.per_user.count as usize;
    let answered = texts.iter().filter(|t| t.starts_with("first=") && t.ends_with("rest=x")).count();
    assert!(answered <= per_user + 1, "{answered} of the flood were handled (per-user limit {per_user})");
    let notices = texts.iter().filter(|t| t.contains("faster than I can answer")).count();
    assert_eq!(notices, 1, "one notice for the whole flood: {texts:?}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_over_its_queue_loses_the_excess_with_one_notice() {
    let probe = Probe::shared();
    let settings = DispatchSettings { conversation_queue: 3, ..DispatchSettings::default() };
    let h = Harness::start_with(vec![probe.clone()], memory_store().await, |b| b.dispatch_settings(settings));
    // The first runs (and waits on the gate); three wait in the queue; the other six are dropped, and their
    // submissions end at once (a dropped event is done).
    let ended = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut submissions = Vec::new();
    for _ in 0..10 {
        let (sink, ended) = (h.sink.clone(), ended.clone());
        submissions.push(tokio::spawn(async move {
            sink.submit_and_wait(event("chatty", "/wait")).await.unwrap();
            ended.fetch_add(1, Ordering::SeqCst);
        }));
    }
    while ended.load(Ordering::SeqCst) < 6 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(ended.load(Ordering::SeqCst), 6, "only the dropped ones ended");
    let skipped: Vec<String> = h.captured.take().iter().map(text_of).collect();
    assert_eq!(skipped, [palisade::dispatch::SKIPPED], "one notice for six dropped events");
    probe.gate.add_permits(10);
    for s in submissions {
        s.await.unwrap();
    }
    // Another conversation was never affected, and the dropped ones never ran.
    assert_eq!(h.say("quiet", "/args a b").await.iter().filter(|t| *t == "first=a rest=b").count(), 1);
    assert_eq!(probe.finished.load(Ordering::SeqCst), 4);
    h.stop().await;
}

/// An outbox that takes `each` per reply, one at a time, and counts what it delivered.
struct Slow {
    each: Duration,
    one_at_a_time: tokio::sync::Mutex<()>,
    delivered: Delivered,
}

#[async_trait]
impl Outbox for Slow {
    async fn deliver(&self, reply: &Reply) -> Result<Option<MessageId>, SendError> {
        let _turn = self.one_at_a_time.lock().await;
        tokio::time::sleep(self.each).await;
        self.delivered.lock().unwrap().push(text_of(reply));
        Ok(None)
    }
}

/// A text reply to `event`'s user in its chat.
fn text_reply(event: &palisade::Event, text: &str) -> Reply {
    Reply {
        chat: event.chat.clone(),
        user: event.user.clone(),
        private: false,
        body: palisade::ReplyBody::Text { text: text.into(), buttons: Vec::new() },
        retract: None,
    }
}

fn dispatcher(
    store: palisade::store::SharedStore,
    probe: Arc<Probe>,
    each: Duration,
    delivered: &Delivered,
) -> Dispatcher {
    let settings = DispatchSettings {
        handler_timeout: Duration::from_secs(5),
        shutdown_grace: Duration::from_secs(10),
        ..DispatchSettings::default()
    };
    let slow = Arc::new(Slow { each, one_at_a_time: tokio::sync::Mutex::new(()), delivered: delivered.clone() });
    Dispatcher::builder(vec![probe], store)
        .clock(palisade::clock::TokioClock::shared())
        .dispatch_settings(settings)
        .outbox(Platform::CONSOLE, slow, Capabilities::CONSOLE)
        .build()
        .unwrap()
}

type Delivered = Arc<std::sync::Mutex<Vec<String>>>;

/// Starts a dispatcher over the sled store in `dir` whose outbox takes `each` per reply, submits `/args n x`
/// from `count` users, stops it (at once too, with `at_once`) and returns how long the stop took.
async fn run_then_stop(dir: &Path, count: usize, each: Duration, delivered: &Delivered, at_once: bool) -> Duration {
    let dispatcher = dispatcher(sled_store(dir).await, Probe::shared(), each, delivered);
    let sink = dispatcher.sink();
    let (shutdown, now) = (CancellationToken::new(), CancellationToken::new());
    let task = tokio::spawn(dispatcher.run_until(shutdown.clone(), now.clone()));
    for n in 0..count {
        sink.submit(event(&format!("u{n}"), &format!("/args {n} x"))).await.unwrap();
    }
    drop(sink);
    tokio::time::sleep(Duration::from_secs(if count == 0 { 5 } else { 0 }) + Duration::from_millis(10)).await;
    let started = tokio::time::Instant::now();
    shutdown.cancel();
    if at_once {
        now.cancel();
    }
    task.await.unwrap();
    started.elapsed()
}

#[tokio::test(start_paused = true)]
async fn shutdown_is_bounded_and_unsent_replies_leave_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let delivered = Delivered::default();
    // 30 replies queued behind an outbox that needs 3 s for each: 90 s to send them all.
    let took = run_then_stop(dir.path(), 30, Duration::from_secs(3), &delivered, false).await;
    assert!(took <= Duration::from_secs(5 + 10 + 1), "shutdown took {took:?}");
    let sent_before = delivered.lock().unwrap().len();
    assert!((1..30).contains(&sent_before), "{sent_before} sent within the grace");

    // The next start sends the rest, each once.
    run_then_stop(dir.path(), 0, Duration::from_millis(1), &delivered, false).await;
    let mut all = delivered.lock().unwrap().clone();
    all.sort();
    let mut expected: Vec<String> = (0..30).map(|n| format!("first={n} rest=x")).collect();
    expected.sort();
    assert_eq!(all, expected, "every reply delivered exactly once");
}

#[tokio::test(start_paused = true)]
async fn a_second_signal_stops_at_once_and_keeps_what_was_not_sent() {
    let dir = tempfile::tempdir().unwrap();
    let delivered = Delivered::default();
    let took = run_then_stop(dir.path(), 5, Duration::from_secs(3), &delivered, true).await;
    assert!(took < Duration::from_secs(1), "took {took:?}");
    run_then_stop(dir.path(), 0, Duration::from_millis(1), &delivered, false).await;
    assert_eq!(delivered.lock().unwrap().len(), 5, "{:?}", delivered.lock().unwrap());
}

#[tokio::test]
async fn a_delivery_seen_before_a_restart_is_not_handled_again() {
    let dir = tempfile::tempdir().unwrap();
    let delivery = || Envelope::new(event("ann", "/args once x")).delivery("test:update:1001");
    let h = Harness::start(vec![Probe::shared()], sled_store(dir.path()).await);
    h.sink.submit_and_wait_envelope(delivery()).await.unwrap();
    assert_eq!(h.captured.take().iter().map(text_of).collect::<Vec<_>>(), ["first=once rest=x"]);
    h.sink.submit_and_wait_envelope(delivery()).await.unwrap();
    h.stop().await;

    let h = Harness::start(vec![Probe::shared()], sled_store(dir.path()).await);
    h.sink.submit_and_wait_envelope(delivery()).await.unwrap();
    // A later event of the same conversation is answered, so the replay would have been by now.
    h.sink.submit_and_wait(event("ann", "/args later x")).await.unwrap();
    assert_eq!(h.captured.take().iter().map(text_of).collect::<Vec<_>>(), ["first=later rest=x"]);
    h.stop().await;
}

/// The child of [`acknowledged_events_survive_kill_9_and_are_answered_once`]: accepts `/wait` events whose
/// handlers never finish, printing each acknowledgement, until it is killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "child process of acknowledged_events_survive_kill_9_and_are_answered_once"]
async fn crash_child() {
    let Some(dir) = std::env::var_os("PALISADE_CRASH_DIR") else {
        return;
    };
    let h = Harness::start(vec![Probe::shared()], sled_store(Path::new(&dir)).await);
    for n in 0.. {
        let envelope = Envelope::new(event(&format!("u{n}"), "/wait")).delivery(format!("test:update:{n}"));
        h.sink.submit_envelope(envelope).await.unwrap();
        println!("ack {n}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_events_survive_kill_9_and_are_answered_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["reliability::crash_child", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env("PALISADE_CRASH_DIR", dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut acked = 0;
    for line in std::io::BufReader::new(child.stdout.take().unwrap()).lines() {
        if line.unwrap().starts_with("ack ") {
            acked += 1;
            if acked == 30 {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL, with 30 acknowledged and none answered
    child.wait().unwrap();
    assert_eq!(acked, 30);

    let probe = Probe::shared();
    probe.gate.add_permits(1000);
    let h = Harness::start(vec![probe.clone()], sled_store(dir.path()).await);
    let mut users = Vec::new();
    for _ in 0..2000 {
        for reply in h.captured.take() {
            assert_eq!(text_of(&reply), "waited");
            users.push(reply.user.id.clone());
        }
        // The child may have accepted a few more after its 30th acknowledgement: those are answered too.
        if (0..30).all(|n| users.contains(&format!("u{n}"))) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut unique = users.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), users.len(), "someone was answered twice: {users:?}");
    for n in 0..30 {
        assert!(users.contains(&format!("u{n}")), "u{n} was never answered: {users:?}");
    }
    // The same deliveries, retried by the platform, are not handled again (a handled one would have been
    // answered by the time its submission returns).
    for n in 0..30 {
        let envelope = Envelope::new(event(&format!("u{n}"), "/wait")).delivery(format!("test:update:{n}"));
        h.sink.submit_and_wait_envelope(envelope).await.unwrap();
    }
    let first_thirty =
        |replies: Vec<Reply>| replies.into_iter().filter(|r| (0..30).any(|n| r.user.id == format!("u{n}"))).count();
    assert_eq!(first_thirty(h.captured.take()), 0, "a retried delivery was handled again");
    h.stop().await;
    // Nor are they run again at the next start: their journal entries are done.
    let h = Harness::start(vec![probe.clone()], sled_store(dir.path()).await);
    h.sink.submit_and_wait(event("u0", "/args after restart")).await.unwrap();
    let replies = h.captured.take();
    assert!(replies.iter().any(|r| text_of(r) == "first=after rest=restart"));
    assert_eq!(first_thirty(replies), 1, "only the new command of u0 was answered");
    h.stop().await;
}

/// The running bot's scheduled backups: taken while audit entries keep being appended, each one is a single
/// moment (its audit chain verifies after a restore), and only the newest `keep` stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_backups_are_consistent_while_writes_go_on_and_old_ones_are_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("master.key");
    palisade::store::write_key_file(&key_file).unwrap();
    let settings = palisade::config::StoreSettings {
        path: dir.path().join("data"),
        master_key_file: Some(key_file.clone()),
        ..Default::default()
    };
    let clock = palisade::clock::SystemClock::shared();
    let records = palisade::store::open_records(&settings, clock.clone()).await.unwrap();
    let audit = palisade::audit::Audit::new(records.clone(), clock.clone());
    let writer = {
        let audit = audit.clone();
        tokio::spawn(async move {
            for n in 0..300 {
                let detail = [("n", n.to_string())];
                audit.record("test.write", None, palisade::audit::Outcome::Info, &detail).await.unwrap();
            }
        })
    };
    let task = palisade::store::BackupTask {
        store: records.clone(),
        dir: dir.path().join("backups"),
        every: Duration::from_secs(3600),
        keep: 2,
        audit: audit.clone(),
    };
    let mut taken = Vec::new();
    for _ in 0..3 {
        taken.push(task.take().await.unwrap().0);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    writer.await.unwrap();
    let left: Vec<_> = std::fs::read_dir(dir.path().join("backups")).unwrap().flatten().map(|e| e.path()).collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(!left.contains(&taken[0]) && left.contains(&taken[1]) && left.contains(&taken[2]));

    // Each restores into a store whose audit chain is intact.
    let master = palisade::store::load_master_key(&settings).unwrap();
    for file in &taken[1..] {
        let verified = palisade::store::backup::verify(file, &master).await.unwrap();
        let backend = Arc::new(palisade::store::MemoryBackend::new());
        palisade::store::backup::load(&verified, &*backend).await.unwrap();
        let restored = palisade::store::RecordStore::open(backend, &master, clock.clone()).await.unwrap();
        let audit = palisade::audit::Audit::new(Arc::new(restored), clock.clone());
        assert_eq!(audit.verify(None).await.unwrap(), [], "backup {} is not one moment", file.display());
    }
}

/// A handled event's replies are recorded in its entry only once they have waited undelivered for a while
/// (or at shutdown); an entry whose replies were delivered before is deleted and never written again.
#[tokio::test]
async fn replies_are_recorded_once_late_and_never_after_their_entry_is_done() {
    use palisade::journal::{Journal, RECORD_REPLIES_AFTER};
    let store = memory_store().await;
    let journal = Journal::new(store.clone(), "");
    let replies_of = |entries: &[(palisade::journal::Entry, palisade::journal::Ticket)]| -> Vec<Option<Vec<String>>> {
        entries.iter().map(|(e, _)| e.replies.as_ref().map(|r| r.iter().map(text_of).collect())).collect()
    };
    let (quick, late) = (event("ann", "/echo quick"), event("bob", "/echo late"));
    let (tq, tl) = (journal.accept(&quick, 1).await.unwrap(), journal.accept(&late, 2).await.unwrap());
    journal.flush().await.unwrap();
    journal.handled(&tq, vec![text_reply(&quick, "quick")]);
    journal.handled(&tl, vec![text_reply(&late, "late")]);
    // Just handled: both entries still as accepted.
    let now = Journal::new(store.clone(), "").recover().await.unwrap();
    assert_eq!(replies_of(&now), [None, None]);
    // One's replies leave at once; the other's wait.
    journal.done(&tq).await;
    tokio::time::sleep(RECORD_REPLIES_AFTER * 4).await;
    let now = Journal::new(store.clone(), "").recover().await.unwrap();
    assert_eq!(now.len(), 1, "the delivered one is gone for good");
    assert_eq!((now[0].1.seq, &now[0].1.user), (tl.seq, &tl.user));
    assert_eq!(replies_of(&now), [Some(vec!["late".to_string()])], "the waiting one's replies are recorded");
    // At shutdown, what waits is recorded at once.
    let last = event("cy", "/echo last");
    let t = journal.accept(&last, 3).await.unwrap();
    journal.flush().await.unwrap();
    journal.handled(&t, vec![text_reply(&last, "last")]);
    journal.settle().await;
    let now = Journal::new(store.clone(), "").recover().await.unwrap();
    assert_eq!(replies_of(&now), [Some(vec!["late".to_string()]), Some(vec!["last".to_string()])]);
    // Delivered after all: gone, and the recorder does not bring it back.
    journal.done(&tl).await;
    journal.done(&t).await;
    tokio::time::sleep(RECORD_REPLIES_AFTER * 4).await;
    assert!(Journal::new(store, "").recover().await.unwrap().is_empty());
}

/// The events one flush accepts are one record: each sealed under its own person's key inside it, so an
/// erasure shreds a pending event there too. Once all are done the record is deleted; what is still open a
/// while after the flush moves to records of its own, and the batch record goes.
#[tokio::test]
async fn a_batch_of_events_is_one_record_its_parts_shredded_by_erasure_and_taken_apart_when_it_lingers() {
    use palisade::journal::{Journal, RECORD_REPLIES_AFTER};
    use palisade::store::Subject;
    let store = memory_store().await;
    let journal = Journal::new(store.clone(), "");
    let records = || async { store.scan("core.journal").await.unwrap().len() };
    let users = |entries: &[(palisade::journal::Entry, palisade::journal::Ticket)]| -> Vec<String> {
        entries.iter().map(|(e, _)| e.event.user.id.clone()).collect()
    };
    // Two events, one flush: one record; both come back.
    let (ann, bob) = (event("ann", "/echo ann's"), event("bob", "/echo bob's"));
    let (ta, tb) = (journal.accept(&ann, 1).await.unwrap(), journal.accept(&bob, 2).await.unwrap());
    journal.flush().await.unwrap();
    assert_eq!(records().await, 1, "one record for the batch");
    assert_eq!(users(&Journal::new(store.clone(), "").recover().await.unwrap()), ["ann", "bob"]);
    // Bob is erased while his event is pending: his part no longer opens, Ann's does.
    store.erase_subject(&Subject::user(&bob.user)).await.unwrap();
    assert_eq!(records().await, 1, "the batch record is about no one: an erasure leaves it");
    let fresh = Journal::new(store.clone(), "");
    assert_eq!(users(&fresh.recover().await.unwrap()), ["ann"]);
    assert_eq!(fresh.accept(&ann, 3).await.unwrap().seq, 3, "numbering goes on after a part that no longer opens");
    // Both done: the record goes at once, nothing is written.
    journal.done(&ta).await;
    journal.done(&tb).await;
    assert_eq!(records().await, 0);

    // Three more; one is done at once, one is handled and waits, one is still being handled when the batch
    // lingers: those two move to records of their own and the batch record goes.
    let (cy, di, ed) = (event("cy", "/echo cy's"), event("di", "/echo di's"), event("ed", "/echo ed's"));
    let tickets = [journal.accept(&cy, 4).await.unwrap(), journal.accept(&di, 5).await.unwrap()];
    let te = journal.accept(&ed, 6).await.unwrap();
    journal.flush().await.unwrap();
    journal.done(&tickets[0]).await;
    journal.handled(&tickets[1], vec![text_reply(&di, "di's reply")]);
    tokio::time::sleep(RECORD_REPLIES_AFTER * 4).await;
    let left = Journal::new(store.clone(), "").recover().await.unwrap();
    assert_eq!(users(&left), ["di", "ed"], "the done one is gone for good");
    assert_eq!(
        left[0].0.replies.as_ref().map(|r| r.iter().map(text_of).collect::<Vec<_>>()),
        Some(vec!["di's reply".to_string()])
    );
    assert_eq!(left[1].0.replies, None, "still being handled");
    assert!(left.iter().all(|(_, t)| t.batch.is_none()), "records of their own now");
    assert_eq!(records().await, 2, "the batch record is gone");
    // Handled only now, its replies late: they are recorded with the event read back from its own record.
    journal.handled(&te, vec![text_reply(&ed, "ed's reply")]);
    tokio::time::sleep(RECORD_REPLIES_AFTER * 4).await;
    let left = Journal::new(store.clone(), "").recover().await.unwrap();
    assert_eq!(users(&left), ["di", "ed"]);
    assert_eq!(format!("{:?}", left[1].0.event.kind), format!("{:?}", ed.kind), "the event as accepted");
    assert_eq!(
        left[1].0.replies.as_ref().map(|r| r.iter().map(text_of).collect::<Vec<_>>()),
        Some(vec!["ed's reply".to_string()])
    );
    assert_eq!(records().await, 2);
    journal.done(&tickets[1]).await;
    journal.done(&te).await;
    assert_eq!(records().await, 0);
}

/// A person erased while their event is still open in a batch: when the batch lingers and is taken apart,
/// their event is not written back under them (that would store their data again after the erasure), nor are
/// their late replies; the others' events are.
#[tokio::test]
async fn an_event_of_a_person_erased_while_its_batch_is_open_is_not_written_again() {
    use palisade::journal::{Journal, RECORD_REPLIES_AFTER};
    use palisade::store::Subject;
    let store = memory_store().await;
    let journal = Journal::new(store.clone(), "");
    let (ann, bob, cy) = (event("ann", "/echo ann's"), event("bob", "/echo bob's"), event("cy", "/echo cy's"));
    let (ta, tb) = (journal.accept(&ann, 1).await.unwrap(), journal.accept(&bob, 2).await.unwrap());
    let tc = journal.accept(&cy, 3).await.unwrap();
    journal.flush().await.unwrap();
    // Cy's event is handled, its reply waiting; Ann's and Bob's are still being handled.
    journal.handled(&tc, vec![text_reply(&cy, "cy's reply")]);
    // Bob and Cy are erased before the batch is taken apart.
    for gone in [&bob, &cy] {
        store.erase_subject(&Subject::user(&gone.user)).await.unwrap();
    }
    tokio::time::sleep(RECORD_REPLIES_AFTER * 4).await;
    for gone in [&bob, &cy] {
        let left = store.list("core.journal", Some(&Subject::user(&gone.user))).await.unwrap();
        assert!(left.is_empty(), "nothing about an erased person is written after the erasure");
    }
    assert_eq!(store.subject_count().await.unwrap(), 1, "no data key is made again for the erased");
    let left = Journal::new(store.clone(), "").recover().await.unwrap();
    assert_eq!(left.iter().map(|(e, _)| e.event.user.id.as_str()).collect::<Vec<_>>(), ["ann"]);
    for t in [&ta, &tb, &tc] {
        journal.done(t).await;
    }
    assert!(store.scan("core.journal").await.unwrap().is_empty());
}

/// A batch the intake refuses (its stream mark could not be written) leaves nothing behind: the platform
/// delivers its events again, and only those copies run — once, and not again at the next start.
#[tokio::test]
async fn a_refused_batch_leaves_no_journal_entry_behind() {
    use crate::support::backend::Observed;
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(Observed::new(dir.path(), true));
    let (key, clock) = (crate::support::test_key(), palisade::clock::TokioClock::shared());
    let store: palisade::store::SharedStore =
        Arc::new(palisade::store::RecordStore::open(backend.clone(), &key, clock).await.unwrap());
    let numbered = |n: u64| {
        Envelope::new(event(&format!("p{n}"), &format!("/args {n} x")))
            .delivery(format!("test:update:{n}"))
            .in_order("test:42:polling", n)
    };
    let h = Harness::start(vec![Probe::shared()], store.clone());
    *backend.failing.lock().unwrap() = Some("core.seen");
    let refused = h.sink.submit_and_wait_envelope(numbered(1)).await;
    assert!(matches!(refused, Err(palisade::SinkError::Journal(_))), "{refused:?}");
    *backend.failing.lock().unwrap() = None;
    for n in [1, 2] {
        h.sink.submit_and_wait_envelope(numbered(n)).await.unwrap();
    }
    let texts: Vec<String> = h.captured.take().iter().map(text_of).collect();
    assert_eq!(texts, ["first=1 rest=x", "first=2 rest=x"], "the copies delivered again run, once");
    h.stop().await;
    let left = palisade::journal::Journal::new(store, "").recover().await.unwrap();
    assert!(left.is_empty(), "left in the journal: {:?}", left.iter().map(|(e, _)| e.seq).collect::<Vec<_>>());
}

/// Deliveries of a numbered stream (Telegram's polling) are told apart by the stream's highest accepted
/// number: one record for the stream, not one per delivery, and repeats are dropped across a restart.
#[tokio::test]
async fn a_numbered_stream_keeps_one_mark_and_drops_repeats_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let numbered = |n: u64| {
        Envelope::new(event("ann", &format!("/args {n} x")))
            .delivery(format!("test:update:{n}"))
            .in_order("test:42:polling", n)
    };
    let texts = |h: &Harness| h.captured.take().iter().map(text_of).collect::<Vec<_>>();
    let h = Harness::start(vec![Probe::shared()], sled_store(dir.path()).await);
    for n in [5, 6, 6, 4] {
        h.sink.submit_and_wait_envelope(numbered(n)).await.unwrap();
    }
    assert_eq!(texts(&h), ["first=5 rest=x", "first=6 rest=x"], "a number at or below the mark is a repeat");
    h.stop().await;

    let h = Harness::start(vec![Probe::shared()], sled_store(dir.path()).await);
    for n in [6, 7] {
        h.sink.submit_and_wait_envelope(numbered(n)).await.unwrap();
    }
    assert_eq!(texts(&h), ["first=7 rest=x"], "the mark outlives a restart");
    h.stop().await;
    let store = sled_store(dir.path()).await;
    assert_eq!(store.scan("core.seen").await.unwrap().len(), 1, "one record for the stream");
}

/// A stream's mark is written once per batch, taken back when the batch is refused, and forgotten after a
/// day without deliveries (Telegram may number afresh after a quiet spell).
#[tokio::test]
async fn a_stream_mark_is_taken_back_with_a_refused_batch_and_forgotten_after_a_day() {
    use palisade::journal::{Journal, SEEN_FOR_MS};
    let store = memory_store().await;
    let now = palisade::clock::Clock::now_ms(&*palisade::clock::TokioClock::shared());
    let journal = Journal::new(store.clone(), "");
    assert!(journal.marks_streams(), "one process on its store keeps marks");
    assert_eq!(journal.claim_numbered("s", 10, now).await.unwrap(), Some(0));
    assert_eq!(journal.claim_numbered("s", 11, now).await.unwrap(), Some(10));
    assert_eq!(journal.claim_numbered("s", 11, now).await.unwrap(), None, "a repeat");
    // One of them was not accepted after all: the mark goes back below it.
    journal.release_numbered("s", 10);
    assert_eq!(journal.claim_numbered("s", 11, now).await.unwrap(), Some(10));
    let (written, result) = journal.write_marks(now).await;
    result.unwrap();
    assert_eq!(Journal::new(store.clone(), "").claim_numbered("s", 11, now).await.unwrap(), None, "written");
    // The batch's flush failed: the mark is taken back, in memory and in the store.
    journal.undo_marks(written).await;
    assert_eq!(journal.claim_numbered("s", 11, now).await.unwrap(), Some(0));
    assert_eq!(Journal::new(store.clone(), "").claim_numbered("s", 11, now).await.unwrap(), Some(0));
    // Written again; a day later it no longer counts.
    let (_, result) = journal.write_marks(now).await;
    result.unwrap();
    let later = Journal::new(store.clone(), "");
    assert_eq!(later.claim_numbered("s", 3, now + 1000).await.unwrap(), None);
    let later = Journal::new(store.clone(), "");
    let day = now + SEEN_FOR_MS + 1000;
    assert_eq!(later.claim_numbered("s", 3, day).await.unwrap(), Some(0));
    // Numbered afresh, the stream may come back to the old number: accepted once, and a repeat after that.
    let renumbered = Journal::new(store, "");
    assert_eq!(renumbered.claim_numbered("s", 11, day).await.unwrap(), Some(0));
    let (_, result) = renumbered.write_marks(day).await;
    result.unwrap();
    assert_eq!(renumbered.claim_numbered("s", 11, day).await.unwrap(), None, "the renewed mark holds");
}
