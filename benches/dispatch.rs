//! A command through the whole dispatcher (intake, scheduler, layers, router, plugin, delivery), on one
//! core, with the in-memory store and with sled on disk.
//!
//! Run: `cargo bench --bench dispatch`. Figures are recorded in docs/PERFORMANCE.md.

#![allow(missing_docs)] // criterion_group! generates undocumented items.

use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use palisade::clock::TokioClock;
use palisade::crypto::Key;
use palisade::store::{Backend, MemoryBackend, RecordStore, SharedStore, SledBackend};
use palisade_testkit::bench::{batch, run_dispatcher};

const BATCH: usize = 2_000;
const CONVERSATIONS: usize = 50;

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
        let settings = palisade::config::DispatchSettings { journal, ..Default::default() };
        let (sink, stop) = rt.block_on(async { run_dispatcher(vec![Arc::new(palisade_echo::Echo)], store, settings) });
        group.bench_with_input(BenchmarkId::from_parameter(name), &[sink], |b, sinks| {
            b.to_async(&rt).iter(|| batch(sinks, BATCH, CONVERSATIONS));
        });
        stop.cancel();
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
