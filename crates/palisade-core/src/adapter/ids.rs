//! Opaque ids shared by replicas. Adapters put random ids on buttons (a platform's callback data is too
//! short for what the runtime seals into a button) and resolve a press through them; with replicas, a button
//! sent by one replica may be pressed on another. A runtime whose replicas share a store hands adapters an
//! [`IdBook`] there through their [`super::EventSink`]; a single process needs none.

use async_trait::async_trait;

/// Where ids registered on any replica are found by every other.
#[async_trait]
pub trait IdBook: Send + Sync + 'static {
    /// Remembers what `id` stands for (the adapter's own encoding).
    async fn remember(&self, id: &str, value: &[u8]) -> Result<(), String>;
    /// What `id` stands for, if any replica registered it.
    async fn recall(&self, id: &str) -> Result<Option<Vec<u8>>, String>;
}
