//! Gateway shards on several replicas sharing one Redis: each shard connected by one replica at a time,
//! spread evenly as replicas come, and taken over when the replica running it stops.

use std::sync::Arc;
use std::time::{Duration, Instant};

use palisade::config::{RedisSettings, Settings};
use palisade::store::SharedStore;
use palisade::{Plugin, Section};
use palisade_core::Connection;
use palisade_discord::DiscordAdapter;
use palisade_testkit::Running;
use palisade_testkit::redis::RedisServer;
use serde_json::{Value, json};

use crate::support::Signer;
use crate::support::fake::FakeRest;
use crate::support::gateway::FakeGateway;

async fn store_on(url: String) -> SharedStore {
    palisade_testkit::redis_store(&RedisSettings { url: Some(url), ..RedisSettings::default() }).await
}

/// A gateway bot with `shards` shards as replica `name` over `store`, holding its name with a heartbeat as
/// `palisade run` does (the replicas running are counted by their heartbeats); the token stops the beat.
async fn replica(
    fake: &FakeRest,
    store: SharedStore,
    name: &str,
    shards: u32,
) -> (Running, tokio_util::sync::CancellationToken) {
    let clock = palisade::clock::TokioClock::shared();
    let membership = palisade::replicas::Membership::join(store.clone(), clock, name).await.unwrap();
    let beating = tokio_util::sync::CancellationToken::new();
    tokio::spawn(membership.run(beating.clone()));
    let extra = json!({ "mode": "gateway", "shards": shards });
    let table = crate::support::settings(fake, &Signer::generate().public_hex(), extra);
    let adapter = DiscordAdapter::from_section(&Section::new("adapters.discord", table).unwrap()).unwrap();
    let plugins: Vec<Arc<dyn Plugin>> = vec![Arc::new(palisade_echo::Echo)];
    let mut settings = Settings::default();
    settings.dispatch.replica = name.into();
    (Running::start(Box::new(adapter), store, plugins, settings).await, beating)
}

/// The shards with an open connection, each as often as it is open.
fn open(gateway: &FakeGateway) -> Vec<Value> {
    let mut open: Vec<Value> = gateway.sessions().into_iter().filter(|(_, open)| *open).map(|(s, _)| s).collect();
    open.sort_by_key(Value::to_string);
    open
}

async fn until(what: &str, within: Duration, done: impl Fn() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < within, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_spread_over_replicas_one_connection_each_and_move_when_one_stops() {
    let Some(server) = RedisServer::start("shards_spread_over_replicas_one_connection_each_and_move_when_one_stops")
    else {
        return;
    };
    let fake = FakeRest::start().await;
    let gateway = FakeGateway::start().await;
    fake.set_gateway(&gateway.url);
    let both = vec![json!([0, 2]), json!([1, 2])];
    // Alone, a replica runs both shards.
    let (a, a_beating) = replica(&fake, store_on(server.url()).await, "a", 2).await;
    until("a connects both shards", Duration::from_secs(20), || open(&gateway) == both).await;
    // A second replica comes: a hands one shard over (its share is one now), b takes it; never two
    // connections for one shard.
    let (b, b_beating) = replica(&fake, store_on(server.url()).await, "b", 2).await;
    let started = Instant::now();
    while !b.rejections.states().contains(&Connection::Connected) {
        assert!(started.elapsed() < Duration::from_secs(30), "b runs a shard: {:?}", gateway.sessions());
        let now = open(&gateway);
        assert!(now.windows(2).all(|w| w[0] != w[1]), "one connection per shard: {now:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    until("both shards connected again", Duration::from_secs(20), || open(&gateway) == both).await;
    assert_eq!(gateway.sessions().len(), 3, "one shard moved once: {:?}", gateway.sessions());
    // a stops: it hands its shard back, and b runs both.
    a.stop().await.unwrap();
    a_beating.cancel();
    until("b runs both shards", Duration::from_secs(20), || open(&gateway) == both && gateway.sessions().len() == 4)
        .await;
    b.stop().await.unwrap();
    b_beating.cancel();
    until("every connection closed", Duration::from_secs(20), || open(&gateway).is_empty()).await;
}
