//! The encrypted store against plain sled: put and get of 64 B and 1 KiB values about a data subject (and the
//! same store over memory, to tell its own work from the engine's); and
//! the encrypted store on Redis (one server and a three-primary cluster on loopback, when `redis-server` is
//! installed) against the same store on sled; and one write made durable on an anchored sled store (what the
//! journal pays per batch of accepted events) against the same on plain sled.
//!
//! Run: `cargo bench --bench store`. Figures are recorded in docs/PERFORMANCE.md.

#![allow(missing_docs)] // criterion_group! generates undocumented items.

use std::sync::Arc;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use palisade::clock::TokioClock;
use palisade::crypto::Key;
use palisade::store::{Backend, Durability, MemoryBackend, RecordKey, RecordStore, SledBackend, Store, Subject};
use palisade::{Platform, UserRef};

const KEYS: u32 = 1_000;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = SledBackend::open(&dir.path().join("plain")).expect("sled");
    let sealed_backend: Arc<dyn Backend> = Arc::new(SledBackend::open(&dir.path().join("sealed")).expect("sled"));
    let master = Key::generate().expect("key");
    let sealed = rt.block_on(RecordStore::open(sealed_backend, &master, TokioClock::shared())).expect("open");
    // The same store over memory: what the store itself adds to its primitives, without an engine's write.
    let in_memory = rt.block_on(RecordStore::open(Arc::new(MemoryBackend::new()), &master, TokioClock::shared()));
    let in_memory = in_memory.expect("open");
    let subject = Subject::user(&UserRef::new(Platform::TELEGRAM, "123456789"));
    let ids: Vec<String> = (0..KEYS).map(|i| format!("record-{i:06}")).collect();
    for size in [64usize, 1024] {
        let value = vec![0xA5u8; size];
        let mut group = c.benchmark_group(format!("store_{size}B"));
        group.throughput(Throughput::Bytes(size as u64));
        let mut i = 0usize;
        // sled skips a write of the value a key already holds, so each round over the keys writes the other
        // of two values (as every sealed value differs from the last: a fresh nonce).
        let variants = [value.clone(), vec![0x5Au8; size]];
        let mut round = 0usize;
        group.bench_function(BenchmarkId::new("put", "plain_sled"), |b| {
            b.to_async(&rt).iter(|| {
                i = (i + 1) % ids.len();
                if i == 0 {
                    round += 1;
                }
                let (plain, id, value) = (&plain, &ids[i], &variants[round % 2]);
                async move { plain.insert("bench", id.as_bytes(), value).await.expect("insert") }
            });
        });
        for (name, store) in [("encrypted", &sealed), ("encrypted_in_memory", &in_memory)] {
            bench_put(&mut group, &rt, name, store, (&subject, &ids), &value);
        }
        group.bench_function(BenchmarkId::new("get", "plain_sled"), |b| {
            b.to_async(&rt).iter(|| {
                i = (i + 1) % ids.len();
                let (plain, id) = (&plain, &ids[i]);
                async move { plain.get("bench", id.as_bytes()).await.expect("get").expect("present") }
            });
        });
        for (name, store) in [("encrypted", &sealed), ("encrypted_in_memory", &in_memory)] {
            bench_get(&mut group, &rt, name, store, (&subject, &ids));
        }
        group.finish();
    }
}

/// Puts of `value` through `store` in `group`, as `put/<name>`, each at the next of `ids` about `subject`.
fn bench_put(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &tokio::runtime::Runtime,
    name: &str,
    store: &RecordStore,
    (subject, ids): (&Subject, &[String]),
    value: &[u8],
) {
    let mut i = 0usize;
    group.bench_function(BenchmarkId::new("put", name), |b| {
        b.to_async(rt).iter(|| {
            i = (i + 1) % ids.len();
            let key = RecordKey { namespace: "bench", subject: Some(subject), id: ids[i].as_bytes() };
            async move { store.put(key, value, Durability::Batched).await.expect("put") }
        });
    });
}

/// Gets through `store` in `group`, as `get/<name>`, each of the next of `ids` about `subject` (written by
/// [`bench_put`] before).
fn bench_get(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &tokio::runtime::Runtime,
    name: &str,
    store: &RecordStore,
    (subject, ids): (&Subject, &[String]),
) {
    let mut i = 0usize;
    group.bench_function(BenchmarkId::new("get", name), |b| {
        b.to_async(rt).iter(|| {
            i = (i + 1) % ids.len();
            let key = RecordKey { namespace: "bench", subject: Some(subject), id: ids[i].as_bytes() };
            async move { store.get(key).await.expect("get").expect("present") }
        });
    });
}

/// The encrypted store on one Redis server and on a Redis Cluster, against sled: 1 KiB values, one at a time
/// (the latency one replica's handler sees).
fn shared(c: &mut Criterion) {
    let Some(server) = palisade_testkit::redis::RedisServer::start("the store benchmark on Redis") else { return };
    let Some(cluster) = palisade_testkit::redis::RedisCluster::start("the store benchmark on Redis Cluster") else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let master = Key::generate().expect("key");
    let one = palisade::config::RedisSettings { url: Some(server.url()), ..Default::default() };
    let many = palisade::config::RedisSettings { nodes: cluster.urls(), ..Default::default() };
    let stores: Vec<(&str, RecordStore)> = rt.block_on(async {
        let sled: Arc<dyn Backend> = Arc::new(SledBackend::open(dir.path()).expect("sled"));
        let one: Arc<dyn Backend> = Arc::new(palisade::store::RedisBackend::connect(&one).await.expect("redis"));
        let many: Arc<dyn Backend> = Arc::new(palisade::store::RedisBackend::connect(&many).await.expect("cluster"));
        let mut stores = Vec::new();
        for (name, backend) in [("sled", sled), ("redis", one), ("redis_cluster", many)] {
            stores.push((name, RecordStore::open(backend, &master, TokioClock::shared()).await.expect("open")));
        }
        stores
    });
    let subject = Subject::user(&UserRef::new(Platform::TELEGRAM, "123456789"));
    let ids: Vec<String> = (0..KEYS).map(|i| format!("record-{i:06}")).collect();
    let value = vec![0xA5u8; 1024];
    let mut group = c.benchmark_group("shared_store_1024B");
    for (name, store) in &stores {
        bench_put(&mut group, &rt, name, store, (&subject, &ids), &value);
        bench_get(&mut group, &rt, name, store, (&subject, &ids));
    }
    group.finish();
}

/// One small record written and made durable, as the intake does for a batch of one event: on plain sled (the
/// write and sled's flush with its log's data sync), on the anchored store `palisade run` opens waiting for the
/// anchor (the write, the store's counter, the flush, the anchor file), and there as the journal flushes (the
/// anchor file written a moment later, at most once per `anchor::TRAIL`).
fn flushed(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = SledBackend::open(&dir.path().join("plain")).expect("sled");
    let master = Key::generate().expect("key");
    let backend: Arc<dyn Backend> = Arc::new(SledBackend::open(&dir.path().join("sealed")).expect("sled"));
    let anchor = dir.path().join("palisade.anchor");
    let anchored =
        rt.block_on(RecordStore::open_anchored(backend, &master, TokioClock::shared(), &anchor)).expect("open");
    let subject = Subject::user(&UserRef::new(Platform::TELEGRAM, "123456789"));
    let value = vec![0xA5u8; 300];
    let mut group = c.benchmark_group("flushed_300B");
    let mut i = 0u32;
    group.bench_function("plain_sled", |b| {
        b.to_async(&rt).iter(|| {
            i = (i + 1) % KEYS;
            let (plain, value) = (&plain, &value);
            async move {
                plain.insert("bench", &i.to_be_bytes(), value).await.expect("insert");
                plain.flush().await.expect("flush");
            }
        });
    });
    for (name, anchor_later) in [("anchored", false), ("anchored_anchor_later", true)] {
        group.bench_function(name, |b| {
            b.to_async(&rt).iter(|| {
                i = (i + 1) % KEYS;
                let (anchored, value, subject) = (&anchored, &value, &subject);
                async move {
                    let id = i.to_be_bytes();
                    let key = RecordKey { namespace: "bench", subject: Some(subject), id: &id };
                    anchored.put(key, value, Durability::Batched).await.expect("put");
                    if anchor_later {
                        anchored.flush_anchor_later().await.expect("flush");
                    } else {
                        anchored.flush().await.expect("flush");
                    }
                }
            });
        });
    }
    group.finish();

    // The anchor file's write alone: the whole file replaced, as every flushed write did before (and as the
    // first write after opening still does), against one slot overwritten in place with its data synced.
    let mut group = c.benchmark_group("anchor_file");
    let slot = vec![b' '; palisade::store::anchor::SLOT];
    let (replaced, in_place) = (dir.path().join("replaced.anchor"), dir.path().join("in_place.anchor"));
    let write = palisade::store::anchor::write_file;
    group.bench_function("replace_whole_file", |b| b.iter(|| write(&replaced, None, &slot, 0).expect("replace")));
    let file = write(&in_place, None, &slot, 0).expect("create");
    let mut generation = 0u64;
    group.bench_function("one_slot_in_place", |b| {
        b.iter(|| {
            generation += 1;
            write(&in_place, Some(file.clone()), &slot, generation).expect("write in place")
        });
    });
    group.finish();
}

/// The primitives each record operation uses, to see where the time goes.
fn primitives(c: &mut Criterion) {
    let key = Key::generate().expect("key");
    let value = vec![0xA5u8; 1024];
    let sealed = key.seal(b"aad", &value).expect("seal");
    let mut group = c.benchmark_group("crypto");
    group.bench_function("keyed_hash_40B", |b| b.iter(|| key.hash(b"subject\0telegram:123456789:record-000001")));
    group.bench_function("seal_1KiB", |b| b.iter(|| key.seal(b"aad", &value).expect("seal")));
    group.bench_function("open_1KiB", |b| b.iter(|| key.open(b"aad", &sealed).expect("open")));
    group.bench_function("seal_64B", |b| b.iter(|| key.seal(b"aad", &value[..64]).expect("seal")));
    group.finish();
}

criterion_group!(benches, bench, shared, flushed, primitives);
criterion_main!(benches);
