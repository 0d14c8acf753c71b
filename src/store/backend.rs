//! The raw ordered key-value interface a storage engine provides.

use async_trait::async_trait;

use super::StoreError;

/// A key-value pair as stored.
pub type Pair = (Vec<u8>, Vec<u8>);

/// An ordered key-value engine with named trees. It sees only bytes: encoding, sealing and naming of records
/// happen above it in [`super::RecordStore`].
///
/// Every method is async so that an engine behind a network (or one that fsyncs) never blocks the runtime's
/// worker threads; an engine whose operation would block for long runs it on the blocking pool.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Reads one value.
    async fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Writes one value.
    async fn insert(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<(), StoreError>;
    /// Removes one value; returns whether it existed.
    async fn remove(&self, tree: &str, key: &[u8]) -> Result<bool, StoreError>;
    /// Removes one value only if it still is `expected` (nobody rewrote it since it was read); returns whether
    /// it was removed.
    async fn remove_if_unchanged(&self, tree: &str, key: &[u8], expected: &[u8]) -> Result<bool, StoreError>;
    /// Replaces the value only if it still is `expected`, atomically; returns whether it was replaced.
    async fn replace_if_unchanged(
        &self,
        tree: &str,
        key: &[u8],
        expected: &[u8],
        value: &[u8],
    ) -> Result<bool, StoreError>;
    /// Writes `value` unless the key holds a value already, atomically (two processes racing to create one
    /// key both end up with the same value). Returns what the key held (`None`: `value` was written).
    async fn insert_if_absent(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Every pair whose key starts with `prefix`, in key order.
    async fn scan_prefix(&self, tree: &str, prefix: &[u8]) -> Result<Vec<Pair>, StoreError>;
    /// The names of all trees holding data.
    async fn trees(&self) -> Result<Vec<String>, StoreError>;
    /// Makes every write so far durable.
    async fn flush(&self) -> Result<(), StoreError>;
    /// Whether other processes write the same data at the same time (several replicas on one server): the
    /// store then keeps no copy of anything another process may change or destroy (data keys).
    fn shared(&self) -> bool {
        false
    }
    /// Whether a crash recovers the writes made so far as a prefix of their order: a write is never recovered
    /// without every write made before it (one ordered log). A write another one depends on (a data key,
    /// before anything sealed with it) then needs no flush of its own: the flush that makes the later one
    /// durable makes the earlier one durable too.
    fn recovers_in_order(&self) -> bool {
        false
    }
}
