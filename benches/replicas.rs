//! Replicas on one Redis: events per second through 1, 2 and 3 dispatchers sharing one server, each with
//! its own connection, journal and replica name, the events of every conversation spread round-robin over
//! them (so each conversation's turns pass between replicas). All on one machine: the figure shows what
//! coordinating through Redis costs, not what more machines would add.
//!
//! Run: `cargo bench --bench replicas` (needs `redis-server`). Figures are recorded in docs/PERFORMANCE.md.

#![allow(missing_docs)] // criterion_group! generates undocumented items.

use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use palisade::EventSink;
use palisade_testkit::bench::{batch, run_dispatcher};
use tokio_util::sync::CancellationToken;

const BATCH: usize = 600;
const CONVERSATIONS: usize = 60;

async fn replica(settings: &palisade::config::RedisSettings, name: &str) -> (EventSink, CancellationToken) {
    let store = palisade_testkit::redis_store(settings).await;
    let dispatch = palisade::config::DispatchSettings { replica: name.into(), ..Default::default() };
    run_dispatcher(vec![Arc::new(palisade_echo::Echo)], store, dispatch)
}

fn bench(c: &mut Criterion) {
    let Some(server) = palisade_testkit::redis::RedisServer::start("the replicas benchmark") else { return };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let settings = palisade::config::RedisSettings { url: Some(server.url()), ..Default::default() };
    let mut group = c.benchmark_group("replicas_on_redis");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(10);
    for count in 1..=3 {
        let replicas: Vec<(EventSink, CancellationToken)> = rt.block_on(async {
            let mut replicas = Vec::new();
            for n in 0..count {
                replicas.push(replica(&settings, &format!("r{n}")).await);
            }
            replicas
        });
        let sinks: Vec<EventSink> = replicas.iter().map(|(sink, _)| sink.clone()).collect();
        group.bench_with_input(BenchmarkId::from_parameter(count), &sinks, |b, sinks| {
            b.to_async(&rt).iter(|| batch(sinks, BATCH, CONVERSATIONS));
        });
        for (_, stop) in replicas {
            stop.cancel();
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
