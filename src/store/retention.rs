//! Retention: records older than their namespace's time-to-live are deleted, in the background and by
//! `palisade store sweep`.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Store, StoreError};
use crate::clock::{Clock, millis};

/// Deletes records older than each namespace's TTL; returns how many per namespace.
pub async fn sweep_expired(
    store: &dyn Store,
    ttl: &BTreeMap<String, Duration>,
    clock: &dyn Clock,
) -> Result<BTreeMap<String, u64>, StoreError> {
    let now = clock.now_ms();
    let mut removed = BTreeMap::new();
    for (namespace, ttl) in ttl {
        let n = store.sweep_older_than(namespace, now.saturating_sub(millis(*ttl))).await?;
        if n > 0 {
            tracing::info!(namespace, removed = n, "retention sweep removed expired records");
        }
        removed.insert(namespace.clone(), n);
    }
    let orphans = store.purge_orphans().await?;
    if orphans > 0 {
        removed.insert("(records of erased subjects)".into(), orphans);
    }
    Ok(removed)
}

/// The background retention sweep: what to sweep and how often.
pub struct RetentionTask {
    /// The store.
    pub store: super::SharedStore,
    /// Its clock.
    pub clock: crate::clock::SharedClock,
    /// Time-to-live per namespace.
    pub ttl: BTreeMap<String, Duration>,
    /// How often.
    pub every: Duration,
}

impl RetentionTask {
    /// Retention from the data manifests, shortened (never lengthened) by `[store.retention]` overrides.
    #[must_use]
    pub fn with_manifests(
        mut self,
        manifests: &[(String, palisade_core::plugin::DataManifest)],
        overrides: &BTreeMap<String, Duration>,
    ) -> Self {
        for (_, manifest) in manifests {
            for ns in &manifest.namespaces {
                let ttl = overrides.get(ns.name).map_or(ns.retention, |o| (*o).min(ns.retention));
                self.ttl.insert(ns.name.to_string(), ttl);
            }
        }
        // Delivery ids the journal remembers (no personal data): kept as long as a replay could come.
        let seen = Duration::from_millis(crate::journal::SEEN_FOR_MS);
        self.ttl.entry("core.seen".to_string()).or_insert(seen);
        self
    }

    /// Sweeps every `every` until `stop` (also purging records of erased subjects).
    pub async fn run(self, stop: tokio_util::sync::CancellationToken) {
        let mut tick = tokio::time::interval(self.every);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            if let Err(error) = sweep_expired(&*self.store, &self.ttl, &*self.clock).await {
                tracing::warn!(%error, "retention sweep failed; will retry");
            }
        }
    }
}
