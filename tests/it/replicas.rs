//! Several replicas of one bot on one Redis, each running the whole dispatcher: what holds for the events
//! of one conversation wherever the load balancer sends them.

use std::sync::atomic::Ordering;
use std::time::Duration;

use palisade::config::DispatchSettings;
use palisade_testkit::Harness;
use palisade_testkit::redis::{RedisCluster, RedisServer};

use crate::redis_store::{cluster_of, one_server, redis, store_on};
use crate::support::probe::Probe;

fn replica(name: &str) -> DispatchSettings {
    DispatchSettings { replica: name.into(), ..DispatchSettings::default() }
}

/// Sends `count` `/seq n` events of one conversation alternately to the replicas, `gap` apart, without
/// waiting for answers; returns once every one was handled.
async fn alternate(replicas: &[&Harness], probe: &Probe, count: u32, gap: Duration) {
    for n in 0..count {
        let to = replicas[n as usize % replicas.len()];
        to.sink.submit(crate::support::event("ann", &format!("/seq {n}"))).await.unwrap();
        tokio::time::sleep(gap).await;
    }
    let all = tokio::time::timeout(Duration::from_secs(30), async {
        while probe.finished.load(Ordering::SeqCst) < count as usize {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    assert!(all.await.is_ok(), "handled {} of {count}", probe.finished.load(Ordering::SeqCst));
}

#[tokio::test]
async fn a_conversation_spread_over_replicas_runs_one_event_at_a_time_in_arrival_order() {
    let name = "a_conversation_spread_over_replicas_runs_one_event_at_a_time_in_arrival_order";
    let Some(server) = RedisServer::start(name) else { return };
    let Some(cluster) = RedisCluster::start(name) else { return };
    for settings in [one_server(server.url()), cluster_of(cluster.urls())] {
        let probe = Probe::shared();
        let mut replicas = Vec::new();
        for r in ["a", "b", "c"] {
            let store = store_on(redis(&settings).await).await;
            assert!(palisade::Store::shared(&*store), "a store on Redis is shared");
            replicas.push(Harness::start_with(vec![probe.clone()], store, |b| b.dispatch_settings(replica(r))));
        }
        // Handlers take 1–5 ms; a new message every 3 ms, each to the next replica: they would overlap.
        alternate(&replicas.iter().collect::<Vec<_>>(), &probe, 45, Duration::from_millis(3)).await;
        assert_eq!(probe.max_running.load(Ordering::SeqCst), 1, "never two events of one conversation at once");
        let order: Vec<u32> = probe.log.lock().unwrap().iter().map(|(_, n)| *n).collect();
        assert_eq!(order, (0..45).collect::<Vec<_>>(), "run in the order they arrived");
        // Stopped first: a stop lets the replies queued last leave.
        let captured: Vec<_> = replicas.iter().map(|r| r.captured.clone()).collect();
        for r in replicas {
            r.stop().await;
        }
        let mut answered: Vec<String> =
            captured.iter().flat_map(|c| c.take()).map(|reply| crate::support::text_of(&reply)).collect();
        answered.sort_by_key(|t| t.trim_start_matches("seq ").parse::<u32>().unwrap_or(u32::MAX));
        assert_eq!(answered, (0..45).map(|n| format!("seq {n}")).collect::<Vec<_>>(), "each answered once");
    }
}

#[tokio::test]
async fn conversations_of_different_people_still_run_side_by_side_on_replicas() {
    let Some(server) = RedisServer::start("conversations_of_different_people_still_run_side_by_side_on_replicas")
    else {
        return;
    };
    let probe = Probe::shared();
    let a = Harness::start_with(vec![probe.clone()], store_on(redis(&one_server(server.url())).await).await, |b| {
        b.dispatch_settings(replica("a"))
    });
    let b = Harness::start_with(vec![probe.clone()], store_on(redis(&one_server(server.url())).await).await, |b| {
        b.dispatch_settings(replica("b"))
    });
    // Two people each waiting on the gate at once, one per replica: turns are per conversation.
    a.sink.submit(crate::support::event("ann", "/wait")).await.unwrap();
    b.sink.submit(crate::support::event("ben", "/wait")).await.unwrap();
    let both = tokio::time::timeout(Duration::from_secs(10), async {
        while probe.waiting.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    assert!(both.await.is_ok(), "both people's handlers run at the same time");
    probe.gate.add_permits(2);
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_grant_given_on_one_replica_holds_on_another_and_a_revocation_ends_it_everywhere() {
    let Some(server) =
        RedisServer::start("a_grant_given_on_one_replica_holds_on_another_and_a_revocation_ends_it_everywhere")
    else {
        return;
    };
    let probe = Probe::shared();
    let settings = one_server(server.url());
    let a = Harness::bot(vec![probe.clone()], store_on(redis(&settings).await).await, crate::redis_store::replica("a"))
        .await;
    let b = Harness::bot(vec![probe.clone()], store_on(redis(&settings).await).await, crate::redis_store::replica("b"))
        .await;
    let enrolled = a.enrol("ann").await;
    let asked = a.say("ann", "/secret one").await;
    assert!(asked[0].starts_with("<code prompt>"), "{asked:?}");
    assert_eq!(a.say("ann", &a.code(&enrolled.secret, 1)).await, ["ran secret: one"]);
    // Verified through a, within the grant's time: b runs the next sensitive command without a code.
    assert_eq!(b.say("ann", "/secret two").await, ["ran secret: two"]);
    // Only in that conversation: another person on b is asked.
    let other = b.say("ben", "/secret three").await;
    assert!(!other.contains(&"ran secret: three".to_string()), "{other:?}");
    // Two-factor turned off through b ends the grant on a as well.
    assert!(b.stepup().disable(&crate::support::user("ann")).await.unwrap());
    let after = a.say("ann", "/secret four").await;
    assert!(!after.contains(&"ran secret: four".to_string()), "the grant ended everywhere: {after:?}");
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_person_gets_the_configured_rate_across_all_replicas_together() {
    let Some(server) = RedisServer::start("a_person_gets_the_configured_rate_across_all_replicas_together") else {
        return;
    };
    let probe = Probe::shared();
    let limited = |name: &str| {
        let mut settings = crate::redis_store::replica(name);
        settings.ratelimit.per_user = palisade::config::Rate { count: 5, per: Duration::from_secs(60) };
        settings.ratelimit.global.count = 0;
        settings
    };
    let settings = one_server(server.url());
    let a = Harness::bot(vec![probe.clone()], store_on(redis(&settings).await).await, limited("a")).await;
    let b = Harness::bot(vec![probe.clone()], store_on(redis(&settings).await).await, limited("b")).await;
    let mut answers = Vec::new();
    for n in 0..8 {
        let to = if n % 2 == 0 { &a } else { &b };
        answers.extend(to.say("ann", &format!("/seq {n}")).await);
    }
    // A notice is queued as its event is dropped, and may leave just after the answer to `say`.
    tokio::time::sleep(Duration::from_millis(200)).await;
    answers.extend(a.captured.take().iter().chain(&b.captured.take()).map(crate::support::text_of));
    let ran = answers.iter().filter(|t| t.starts_with("seq ")).count();
    let told = answers.iter().filter(|t| t.contains("faster than I can answer")).count();
    assert_eq!((ran, told), (5, 1), "five in a minute over both replicas, told once: {answers:?}");
    // Someone else has a bucket of their own.
    assert_eq!(b.say("ben", "/seq 9").await, ["seq 9"]);
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_work_a_killed_replica_accepted_is_taken_up_by_another() {
    let Some(server) = RedisServer::start("the_work_a_killed_replica_accepted_is_taken_up_by_another") else {
        return;
    };
    let probe = Probe::shared();
    let settings = one_server(server.url());
    let b = Harness::start_with(vec![probe.clone()], store_on(redis(&settings).await).await, |d| {
        d.dispatch_settings(replica("b"))
    });
    // Replica a runs on a runtime of its own, so that it can die at once with every task it has (kill -9).
    let doomed = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let (sink_tx, sink_rx) = tokio::sync::oneshot::channel();
    doomed.spawn({
        let (probe, settings) = (probe.clone(), settings.clone());
        async move {
            // As `palisade run` does: the name first, with its heartbeat, then the dispatcher.
            let store = store_on(redis(&settings).await).await;
            let clock = palisade::clock::TokioClock::shared();
            let name = palisade::replicas::Membership::join(store.clone(), clock, "a").await.unwrap();
            tokio::spawn(name.run(tokio_util::sync::CancellationToken::new()));
            let a = Harness::start_with(vec![probe], store, |d| d.dispatch_settings(replica("a")));
            let _ = sink_tx.send(a.sink.clone());
            std::future::pending::<()>().await;
        }
    });
    let sink_a = sink_rx.await.unwrap();
    // a accepts (journals) two events of one conversation and starts the first (the second waits behind
    // it); then it is killed.
    sink_a.submit(crate::support::event("ann", "/wait")).await.unwrap();
    sink_a.submit(crate::support::event("ann", "/args left behind")).await.unwrap();
    let started = std::time::Instant::now();
    while probe.waiting.load(Ordering::SeqCst) < 1 {
        assert!(started.elapsed() < Duration::from_secs(10), "a started the first event");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    doomed.shutdown_background();
    // b takes a's name over once it has been silent for 20 s, and runs what a's journal holds.
    let killed = std::time::Instant::now();
    while probe.waiting.load(Ordering::SeqCst) < 2 {
        assert!(killed.elapsed() < Duration::from_secs(45), "b takes the work up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    probe.gate.add_permits(2);
    let mut answered = Vec::new();
    while answered.len() < 2 {
        assert!(killed.elapsed() < Duration::from_secs(60), "b answers both: {answered:?}");
        answered.extend(b.captured.take().iter().map(crate::support::text_of));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(answered, ["waited", "first=left rest=behind"], "both, in the order a accepted them");
    assert!(killed.elapsed() >= palisade::replicas::STALE_AFTER, "not before a was silent long enough");
    // Done, b gives the name back: a replica may start under it at once, with an empty journal.
    let store = store_on(redis(&settings).await).await;
    let journal = palisade::journal::Journal::new(store.clone(), "a");
    let freed = std::time::Instant::now();
    loop {
        let clock = palisade::clock::TokioClock::shared();
        match palisade::replicas::Membership::join(store.clone(), clock, "a").await {
            Ok(_) => break,
            Err(e) => assert!(freed.elapsed() < Duration::from_secs(15), "the name comes back: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(journal.recover().await.unwrap().is_empty(), "nothing left in a's journal");
    b.stop().await;
}

/// Waits (at most a minute) until `want` replies were captured, then a moment more for any extra; their
/// texts, sorted by the number after `first=` (the `/args n x` answers).
async fn answers(captured: &palisade_testkit::Captured, want: usize) -> Vec<String> {
    let mut texts = Vec::new();
    let started = std::time::Instant::now();
    while texts.len() < want {
        assert!(started.elapsed() < Duration::from_secs(60), "answered: {texts:?}");
        texts.extend(captured.take().iter().map(crate::support::text_of));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    texts.extend(captured.take().iter().map(crate::support::text_of));
    texts.sort_by_key(|t| t.trim_start_matches("first=").split(' ').next().and_then(|n| n.parse::<u32>().ok()));
    texts
}

/// `/args n x` from person `pn` under the delivery id of Telegram update n.
fn numbered(n: u32) -> palisade::Envelope {
    let event = crate::support::event(&format!("p{n}"), &format!("/args {n} x"));
    palisade::Envelope::new(event).delivery(format!("telegram:update:{n}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_refuses_new_work_meanwhile_and_then_everything_runs_once() {
    let Some(mut server) =
        RedisServer::start("a_redis_restart_refuses_new_work_meanwhile_and_then_everything_runs_once")
    else {
        return;
    };
    let probe = Probe::shared();
    let store = store_on(redis(&one_server(server.url())).await).await;
    let a = Harness::start_with(vec![probe.clone()], store, |d| d.dispatch_settings(replica("a")));
    let submit = |n: u32| a.sink.submit_envelope(numbered(n));
    for n in 0..10 {
        submit(n).await.unwrap();
    }
    assert_eq!(answers(&a.captured, 10).await.len(), 10);

    // Redis goes away: new deliveries are refused (the platform keeps them and retries), promptly.
    server.stop();
    for n in 10..15 {
        let started = std::time::Instant::now();
        let refused = submit(n).await;
        assert!(matches!(refused, Err(palisade::SinkError::Journal(_))), "{refused:?}");
        assert!(started.elapsed() < Duration::from_secs(20), "refused in {:?}", started.elapsed());
    }
    // Back (its data kept on disk, as operations.md asks): the retries are taken, each once, and a repeat of
    // a delivery handled before the outage stays a repeat.
    server.run();
    let started = std::time::Instant::now();
    let mut n = 10;
    while n < 15 {
        match submit(n).await {
            Ok(()) => n += 1,
            Err(error) => {
                assert!(started.elapsed() < Duration::from_secs(30), "taken again after the restart: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    let repeat = a.sink.submit_and_wait_envelope(numbered(3));
    assert_eq!(repeat.await.unwrap(), palisade::Admission::Repeat, "handled before the outage");
    let texts = answers(&a.captured, 5).await;
    assert_eq!(texts, (10..15).map(|n| format!("first={n} rest=x")).collect::<Vec<_>>(), "each once");
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_failover_refuses_new_work_meanwhile_and_then_everything_runs_once() {
    let Some(mut cluster) = RedisCluster::start_with_replicas(
        "a_cluster_failover_refuses_new_work_meanwhile_and_then_everything_runs_once",
    ) else {
        return;
    };
    let probe = Probe::shared();
    let store = store_on(redis(&cluster_of(cluster.urls())).await).await;
    let a = Harness::start_with(vec![probe.clone()], store, |d| d.dispatch_settings(replica("a")));
    // Spread over many people, so their records (one slot per person) live on every primary.
    let submit = |n: u32| a.sink.submit_envelope(numbered(n));
    for n in 0..30 {
        submit(n).await.unwrap();
    }
    assert_eq!(answers(&a.captured, 30).await.len(), 30);
    tokio::time::sleep(Duration::from_millis(500)).await; // the replicas have every write

    // A primary dies; until its replica takes over, what lands on its slots is refused and retried.
    cluster.kill_a_primary();
    let mut refused = 0;
    for n in 30..60 {
        let started = std::time::Instant::now();
        while let Err(error) = submit(n).await {
            assert!(started.elapsed() < Duration::from_secs(60), "taken after the failover: {error}");
            refused += 1;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let texts = answers(&a.captured, 30).await;
    assert_eq!(texts, (30..60).map(|n| format!("first={n} rest=x")).collect::<Vec<_>>(), "each once");
    // Deliveries from before the failover are still repeats.
    for n in [0, 7, 29] {
        let repeat = a.sink.submit_and_wait_envelope(numbered(n)).await;
        assert_eq!(repeat.unwrap(), palisade::Admission::Repeat, "delivery {n}");
    }
    eprintln!("{refused} submissions refused during the failover");
    a.stop().await;
}
