//! The journal's cost per accepted event, on the encrypted store over sled: a batch of events accepted,
//! written as one record and flushed, then each handled (its reply noted, as the dispatcher does) and done —
//! what the intake, the dispatcher and the outboxes pay for an event whose reply leaves at once.
//!
//! Run: `cargo bench --bench journal`. Figures are recorded in docs/PERFORMANCE.md.

#![allow(missing_docs)] // criterion_group! generates undocumented items.

use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use palisade::clock::TokioClock;
use palisade::crypto::Key;
use palisade::journal::Journal;
use palisade::store::{Backend, RecordStore, SharedStore, SledBackend};
use palisade::{Reply, ReplyBody};
use palisade_testkit::bench::console_event;

/// Events per intake batch: what the Telegram benchmark's batches hold on average.
const BATCH: usize = 100;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let backend: Arc<dyn Backend> = Arc::new(SledBackend::open(dir.path()).expect("sled"));
    let key = Key::generate().expect("key");
    let store: SharedStore =
        Arc::new(rt.block_on(RecordStore::open(backend, &key, TokioClock::shared())).expect("store opens"));
    let journal = Journal::new(store, "");
    let events: Vec<_> = (0..BATCH).map(|i| console_event(i, "/echo a message of ordinary length")).collect();
    let replies: Vec<Vec<Reply>> = events
        .iter()
        .map(|e| {
            let body = ReplyBody::Text { text: "a message of ordinary length".into(), buttons: Vec::new() };
            vec![Reply { chat: e.chat.clone(), user: e.user.clone(), private: false, body, retract: None }]
        })
        .collect();
    let mut group = c.benchmark_group("journal");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function(BenchmarkId::new("accept_flush_handled_done", BATCH), |b| {
        b.to_async(&rt).iter(|| async {
            let mut tickets = Vec::with_capacity(BATCH);
            for (i, event) in events.iter().enumerate() {
                tickets.push(journal.accept(event, 1_700_000_000_000 + i as u64).await.expect("accepted"));
            }
            journal.flush().await.expect("flushed");
            for (ticket, replies) in tickets.iter().zip(&replies) {
                journal.handled(ticket, replies.clone());
                journal.done(ticket).await;
            }
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
