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
