//! Encrypted stores for tests: in memory, or sled in a directory, sealed with a fixed key so a sled store can
//! be reopened by the next step of a test (or by a restarted process).

use std::path::Path;
use std::sync::Arc;

use palisade::clock::TokioClock;
use palisade::crypto::Key;
use palisade::store::{MemoryBackend, RecordStore, SharedStore, SledBackend};

/// The key every test store is sealed with.
///
/// # Panics
/// Never: the key has the right length.
pub fn test_key() -> Key {
    let Ok(key) = Key::from_bytes(&[7u8; 32]) else { unreachable!("32 bytes make a key") };
    key
}

/// A fresh encrypted store in memory.
///
/// # Panics
/// When the store cannot be opened (a bug the test should show).
pub async fn memory_store() -> SharedStore {
    let backend = Arc::new(MemoryBackend::new());
    match RecordStore::open(backend, &test_key(), TokioClock::shared()).await {
        Ok(store) => Arc::new(store),
        Err(e) => panic!("a memory store opens: {e}"),
    }
}

/// The encrypted sled store in `dir` (created when missing).
///
/// # Panics
/// When the store cannot be opened (a bug the test should show).
pub async fn sled_store(dir: &Path) -> SharedStore {
    let backend = match SledBackend::open(dir) {
        Ok(backend) => Arc::new(backend),
        Err(e) => panic!("sled opens in {}: {e}", dir.display()),
    };
    match RecordStore::open(backend, &test_key(), TokioClock::shared()).await {
        Ok(store) => Arc::new(store),
        Err(e) => panic!("the sled store opens: {e}"),
    }
}

/// The encrypted store on the Redis server (or cluster) `settings` name, as each replica of a bot opens it:
/// its own connection, the test key.
///
/// # Panics
/// When Redis cannot be reached or the store cannot be opened.
pub async fn redis_store(settings: &palisade::config::RedisSettings) -> SharedStore {
    let backend = match palisade::store::RedisBackend::connect(settings).await {
        Ok(backend) => Arc::new(backend),
        Err(e) => panic!("Redis answers: {e}"),
    };
    match RecordStore::open(backend, &test_key(), TokioClock::shared()).await {
        Ok(store) => Arc::new(store),
        Err(e) => panic!("the Redis store opens: {e}"),
    }
}

/// The encrypted sled store in `dir`/data with its anchor file in `dir`, as `palisade run` opens it (for
/// benchmarks that should pay what a real bot pays).
///
/// # Panics
/// When the store cannot be opened.
pub async fn anchored_sled_store(dir: &Path) -> SharedStore {
    let backend = match SledBackend::open(&dir.join("data")) {
        Ok(backend) => Arc::new(backend),
        Err(e) => panic!("sled opens in {}: {e}", dir.display()),
    };
    let clock = palisade::clock::SystemClock::shared();
    match RecordStore::open_anchored(backend, &test_key(), clock, &dir.join("palisade.anchor")).await {
        Ok(store) => Arc::new(store),
        Err(e) => panic!("the anchored sled store opens: {e}"),
    }
}
