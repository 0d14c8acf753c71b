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

/// Time-to-live per namespace: each plugin's data manifest, shortened (never lengthened) by the
/// `[store.retention]` overrides, plus the journal's delivery ids, the group chats the bot knows, and what
/// replicas share (button ids, lines of turns). The one rule the bot, a reload and
/// `palisade store sweep` share.
pub fn rules(
    manifests: &[(String, palisade_core::plugin::DataManifest)],
    overrides: &BTreeMap<String, Duration>,
) -> BTreeMap<String, Duration> {
    let mut ttl = overrides.clone();
    for (_, manifest) in manifests {
        for ns in &manifest.namespaces {
            let t = overrides.get(ns.name).map_or(ns.retention, |o| (*o).min(ns.retention));
            ttl.insert(ns.name.to_string(), t);
        }
    }
    // Delivery ids the journal remembers (no personal data): kept as long as a replay could come.
    let seen = Duration::from_millis(crate::journal::SEEN_FOR_MS);
    ttl.entry("core.seen".to_string()).or_insert(seen);
    // Group chats the bot was written to in (no personal data): forgotten a while after the last message.
    ttl.entry(crate::chats::NAMESPACE.to_string()).or_insert(crate::chats::CHATS_KEPT_FOR);
    // Button ids shared by replicas (sealed chat and button data): kept as long as a press is answered.
    ttl.entry(crate::ids::NAMESPACE.to_string()).or_insert(crate::ids::BUTTONS_KEPT_FOR);
    // Lines of turns a dead replica left behind (an active line is rewritten with every event).
    ttl.entry(crate::turns::NAMESPACE.to_string()).or_insert(Duration::from_secs(24 * 3600));
    ttl
}

/// The rules a running sweep applies; a reload replaces them.
pub type SharedRules = std::sync::Arc<std::sync::RwLock<BTreeMap<String, Duration>>>;

/// The background retention sweep: what to sweep and how often.
pub struct RetentionTask {
    /// The store.
    pub store: super::SharedStore,
    /// Its clock.
    pub clock: crate::clock::SharedClock,
    /// Time-to-live per namespace (see [`rules`]); shared so that a reload can replace it.
    pub ttl: SharedRules,
    /// How often.
    pub every: Duration,
}

impl RetentionTask {
    /// Sweeps every `every` until `stop` (also purging records of erased subjects).
    pub async fn run(self, stop: tokio_util::sync::CancellationToken) {
        let mut tick = tokio::time::interval(self.every);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            let ttl = self.ttl.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
            if let Err(error) = sweep_expired(&*self.store, &ttl, &*self.clock).await {
                tracing::warn!(%error, "retention sweep failed; will retry");
            }
        }
    }
}
