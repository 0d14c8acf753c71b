//! Several replicas of one bot polling one token on one Redis: only the replica leading the polling role
//! polls (a second poller would end the first one's polls: Telegram answers 409), the others stand by, and
//! one of them takes over within seconds when the leader dies without a word.

use std::sync::Arc;
use std::time::{Duration, Instant};

use palisade::config::{RedisSettings, Settings};
use palisade::store::SharedStore;
use palisade::{Plugin, Section};
use palisade_core::Connection;
use palisade_telegram::TelegramAdapter;
use palisade_testkit::Running;
use palisade_testkit::redis::RedisServer;
use serde_json::json;

use palisade_testkit::telegram::{BOT_USERNAME, FakeApi};

const ANN: i64 = 4242;

async fn store_on(url: String) -> SharedStore {
    palisade_testkit::redis_store(&RedisSettings { url: Some(url), ..RedisSettings::default() }).await
}

/// A polling bot with the echo plugin as replica `name` over `store`.
async fn replica(fake: &FakeApi, store: SharedStore, name: &str) -> Running {
    let table = crate::support::settings(fake, json!({ "bot_username": BOT_USERNAME }));
    let adapter = TelegramAdapter::from_section(&Section::new("adapters.telegram", table).unwrap()).unwrap();
    let plugins: Vec<Arc<dyn Plugin>> = vec![Arc::new(palisade_echo::Echo)];
    let mut settings = Settings::default();
    settings.dispatch.replica = name.into();
    Running::start(Box::new(adapter), store, plugins, settings).await
}

/// Sends `/echo <word>` and waits for the echo; returns how long it took.
async fn echoed(fake: &FakeApi, word: &str) -> Duration {
    let started = Instant::now();
    fake.message(ANN as u64, ANN, &format!("/echo {word}"));
    fake.until_sent(word).await;
    started.elapsed()
}

#[tokio::test]
async fn one_replica_polls_and_another_takes_over_when_it_dies() {
    let Some(server) = RedisServer::start("one_replica_polls_and_another_takes_over_when_it_dies") else { return };
    let fake = FakeApi::start().await;
    // Replica a runs on a runtime of its own, so that it can die at once with every task it has (kill -9:
    // no hand-over, no goodbye).
    let doomed = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let (up_tx, up_rx) = tokio::sync::oneshot::channel();
    let (url, fake_for_a) = (server.url(), fake.clone());
    doomed.spawn(async move {
        let _a = replica(&fake_for_a, store_on(url).await, "a").await;
        let _ = up_tx.send(());
        std::future::pending::<()>().await;
    });
    up_rx.await.unwrap();
    echoed(&fake, "first").await;
    let b = replica(&fake, store_on(server.url()).await, "b").await;
    // b stands by while a polls; their polls never overlap.
    let standing = Instant::now();
    while !b.rejections.states().contains(&Connection::Standby) {
        assert!(standing.elapsed() < Duration::from_secs(10), "b reports standby: {:?}", b.rejections.states());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for word in ["second", "third", "fourth"] {
        echoed(&fake, word).await;
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    assert_eq!(fake.conflicts(), 0, "one poller at a time");
    assert!(!b.rejections.states().contains(&Connection::Connected), "b has not polled while a lives");
    // a dies; b takes over within the lease's time (9 s) plus a look and a poll.
    doomed.shutdown_background();
    let taken_over = echoed(&fake, "after").await;
    assert!(taken_over < Duration::from_secs(15), "taken over in {taken_over:?}");
    assert!(b.rejections.states().contains(&Connection::Connected), "b polls now");
    let sent: Vec<String> =
        fake.calls().iter().filter(|c| c.method == "sendmessage").map(|c| c.text().to_string()).collect();
    for word in ["first", "second", "third", "fourth", "after"] {
        assert_eq!(sent.iter().filter(|t| *t == word).count(), 1, "{word} answered once: {sent:?}");
    }
    // A replica that stops hands the lease back: the one standing by polls at once, not after 9 s.
    let c = replica(&fake, store_on(server.url()).await, "c").await;
    let standing = Instant::now();
    while !c.rejections.states().contains(&Connection::Standby) {
        assert!(standing.elapsed() < Duration::from_secs(10), "c reports standby: {:?}", c.rejections.states());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    b.stop().await.unwrap();
    let handed_over = echoed(&fake, "handed").await;
    assert!(handed_over < Duration::from_secs(5), "handed over in {handed_over:?}");
    assert!(c.rejections.states().contains(&Connection::Connected), "c polls now");
    c.stop().await.unwrap();
}

#[tokio::test]
async fn two_bots_polling_one_token_without_a_shared_store_end_each_others_polls() {
    // What the lead prevents: two processes that do not share a store both poll, and Telegram ends polls.
    let fake = FakeApi::start().await;
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = replica(&fake, palisade_testkit::sled_store(da.path()).await, "").await;
    let b = replica(&fake, palisade_testkit::sled_store(db.path()).await, "").await;
    let started = Instant::now();
    while fake.conflicts() == 0 {
        assert!(started.elapsed() < Duration::from_secs(10), "the fake ends overlapping polls with 409");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}
