//! Ordering within a conversation, concurrency across conversations, backpressure and graceful shutdown.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::support::probe::Probe;
use crate::support::{Harness, event, memory_store};
use palisade::SinkError;
use palisade::config::DispatchSettings;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_one_conversation_run_in_order_while_others_run_concurrently() {
    let probe = Probe::shared();
    // Room for all 25 of each user's events (the default keeps 20 waiting per conversation).
    let settings = DispatchSettings { conversation_queue: 25, ..DispatchSettings::default() };
    let h = Harness::start_with(vec![probe.clone()], memory_store().await, |b| b.dispatch_settings(settings));
    let users = ["ann", "bob", "cat", "dan"];
    for n in 0..25 {
        for u in users {
            h.sink.submit(event(u, &format!("/seq {n}"))).await.unwrap();
        }
    }
    while probe.finished.load(Ordering::SeqCst) < 100 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut per_user: HashMap<String, Vec<u32>> = HashMap::new();
    for (u, n) in probe.log.lock().unwrap().iter() {
        per_user.entry(u.clone()).or_default().push(*n);
    }
    for u in users {
        assert_eq!(per_user[u], (0..25).collect::<Vec<_>>(), "order for {u}");
    }
    assert!(probe.max_running.load(Ordering::SeqCst) > 1, "conversations should overlap");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_is_bounded() {
    let probe = Probe::shared();
    let settings = DispatchSettings { max_concurrency: 2, ..DispatchSettings::default() };
    let h = Harness::start_with(vec![probe.clone()], memory_store().await, |b| b.dispatch_settings(settings));
    for n in 0..10 {
        for u in ["a", "b", "c", "d", "e"] {
            h.sink.submit(event(u, &format!("/seq {n}"))).await.unwrap();
        }
    }
    while probe.finished.load(Ordering::SeqCst) < 50 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(probe.max_running.load(Ordering::SeqCst), 2);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saturated_dispatcher_pushes_back_then_recovers() {
    let probe = Probe::shared();
    let settings = DispatchSettings { max_concurrency: 1, queue_capacity: 2, ..DispatchSettings::default() };
    let h = Harness::start_with(vec![probe.clone()], memory_store().await, |b| b.dispatch_settings(settings));
    let submit = |n: usize| {
        let envelope = palisade::Envelope::new(event(&format!("u{n}"), "/wait"));
        h.sink.submit_within(envelope, Duration::from_millis(100))
    };
    let mut accepted = 0;
    let full = loop {
        match submit(accepted).await {
            Ok(()) => accepted += 1,
            Err(e) => break e,
        }
        assert!(accepted < 50, "intake never filled up");
    };
    assert_eq!(full, SinkError::Full);
    // One running, and a few waiting at each bounded stage (intake, accepted, scheduler): never unbounded.
    assert!((3..=10).contains(&accepted), "{accepted}");
    // The refused submission had already reached the queue when its wait ran out, so it runs too (a
    // platform's retry of it is then a repeat, dropped by its delivery id); and one more follows.
    probe.gate.add_permits(accepted + 2);
    while probe.finished.load(Ordering::SeqCst) < accepted {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    submit(99).await.unwrap();
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_intake_and_drains_accepted_events() {
    let probe = Probe::shared();
    let h = Harness::start(vec![probe.clone()], memory_store().await);
    for u in ["a", "b", "c", "d", "e", "f"] {
        h.sink.submit(event(u, "/wait")).await.unwrap();
    }
    while probe.waiting.load(Ordering::SeqCst) < 6 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let sink = h.sink.clone();
    let captured = Arc::clone(&h.captured);
    h.close_intake();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(sink.submit(event("late", "/args a b")).await, Err(SinkError::Closed));
    assert_eq!(probe.finished.load(Ordering::SeqCst), 0, "handlers are still waiting on the gate");
    probe.gate.add_permits(6);
    h.stop().await;
    assert_eq!(probe.finished.load(Ordering::SeqCst), 6);
    let replies = captured.take();
    assert_eq!(replies.iter().filter(|r| crate::support::text_of(r) == "waited").count(), 6);
}
