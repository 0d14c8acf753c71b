//! A command through the whole dispatcher (intake, scheduler, layers, router, plugin, delivery), on one
//! core, with the in-memory store and with sled on disk.
//!
//! Run: `cargo bench --bench dispatch`. Figures are recorded in docs/PERFORMANCE.md.

#![allow(missing_docs)] // criterion_group! generates undocumented items.

use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use palisade::adapter::Capabilities;
use palisade::clock::TokioClock;
use palisade::crypto::Key;
use palisade::store::{Backend, MemoryBackend, RecordStore, SharedStore, SledBackend};
use palisade::{Dispatcher, Envelope, EventSink, Platform};
use palisade_testkit::bench::{Discard, console_event as event};
use tokio_util::sync::CancellationToken;

const BATCH: usize = 2_000;
const CONVERSATIONS: usize = 50;

async fn start(store: SharedStore, journal: bool) -> (EventSink, CancellationToken) {
    let settings = palisade::config::DispatchSettings { journal, ..Default::default() };
    let dispatcher = Dispatcher::builder(vec![Arc::new(palisade_echo::Echo)], store)
        .dispatch_settings(settings)
        .outbox(Platform::CONSOLE, Arc::new(Discard), Capabilities::CONSOLE)
        .build()
        .expect("dispatcher builds");
    let sink = dispatcher.sink();
    let stop = CancellationToken::new();
    tokio::spawn(dispatcher.run(stop.clone()));
    (sink, stop)
}

/// Hands in a batch spread over many conversations, as an adapter with a batch of deliveries does (all of
/// it, then the acceptances), then one awaited event per conversation; since each conversation is ordered,
/// when those are done the whole batch is.
async fn batch(sink: &EventSink) {
    let mut pending = Vec::with_capacity(BATCH);
    for i in 0..BATCH - CONVERSATIONS {
        pending.push(sink.enqueue(Envelope::new(event(i % CONVERSATIONS, "/echo hello"))).await.expect("queued"));
    }
    for result in futures::future::join_all(pending.into_iter().map(palisade::Pending::accepted)).await {
        result.expect("accepted");
    }
    let waits = (0..CONVERSATIONS).map(|c| sink.submit_and_wait(event(c, "/echo last")));
    for result in futures::future::join_all(waits).await {
        result.expect("handled");
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let key = Key::generate().expect("key");
    let memory: Arc<dyn Backend> = Arc::new(MemoryBackend::new());
    let sled: Arc<dyn Backend> = Arc::new(SledBackend::open(dir.path()).expect("sled"));
    let stores: Vec<(&str, SharedStore, bool)> =
        [("memory", memory.clone(), true), ("sled", sled.clone(), true), ("sled_without_journal", sled, false)]
            .into_iter()
            .map(|(name, backend, journal)| {
                let store = rt.block_on(RecordStore::open(backend, &key, TokioClock::shared())).expect("store opens");
                (name, Arc::new(store) as SharedStore, journal)
            })
            .collect();
    let mut group = c.benchmark_group("dispatch_command");
    group.throughput(Throughput::Elements(BATCH as u64));
    for (name, store, journal) in stores {
        let (sink, stop) = rt.block_on(start(store, journal));
        group.bench_with_input(BenchmarkId::from_parameter(name), &sink, |b, sink| {
            b.to_async(&rt).iter(|| batch(sink));
        });
        stop.cancel();
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
