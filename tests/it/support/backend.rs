//! Backends for tests: sled observed and made to fail.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use palisade::store::StoreError;

/// sled under a count of its flushes; `in_order` is what it says of its recovery. Writes to the tree named
/// in `failing` fail, as a full disk would make them.
pub struct Observed {
    sled: palisade::store::SledBackend,
    pub flushes: AtomicUsize,
    in_order: bool,
    pub failing: Mutex<Option<&'static str>>,
}

impl Observed {
    /// sled in `dir`.
    pub fn new(dir: &Path, in_order: bool) -> Self {
        let sled = palisade::store::SledBackend::open(dir).unwrap();
        Self { sled, flushes: AtomicUsize::new(0), in_order, failing: Mutex::new(None) }
    }

    fn check(&self, tree: &str) -> Result<(), StoreError> {
        match *self.failing.lock().unwrap() {
            Some(failing) if failing == tree => Err(StoreError::Backend {
                op: "insert",
                namespace: tree.to_string(),
                reason: "no space left on device (a test)".into(),
            }),
            _ => Ok(()),
        }
    }
}

#[async_trait::async_trait]
impl palisade::store::Backend for Observed {
    async fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.sled.get(tree, key).await
    }
    async fn insert(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.check(tree)?;
        self.sled.insert(tree, key, value).await
    }
    async fn remove(&self, tree: &str, key: &[u8]) -> Result<bool, StoreError> {
        self.sled.remove(tree, key).await
    }
    async fn remove_if_unchanged(&self, tree: &str, key: &[u8], expected: &[u8]) -> Result<bool, StoreError> {
        self.sled.remove_if_unchanged(tree, key, expected).await
    }
    async fn replace_if_unchanged(
        &self,
        tree: &str,
        key: &[u8],
        expected: &[u8],
        value: &[u8],
    ) -> Result<bool, StoreError> {
        self.check(tree)?;
        self.sled.replace_if_unchanged(tree, key, expected, value).await
    }
    async fn insert_if_absent(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.check(tree)?;
        self.sled.insert_if_absent(tree, key, value).await
    }
    async fn scan_prefix(&self, tree: &str, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        self.sled.scan_prefix(tree, prefix).await
    }
    async fn trees(&self) -> Result<Vec<String>, StoreError> {
        self.sled.trees().await
    }
    async fn flush(&self) -> Result<(), StoreError> {
        self.flushes.fetch_add(1, Ordering::SeqCst);
        self.sled.flush().await
    }
    fn recovers_in_order(&self) -> bool {
        self.in_order
    }
}
