//! Replicas sharing one store: each process holds its `[dispatch] replica` name with a heartbeat in
//! `core.replicas`, so two processes never run under one name — they would number, file and recover each
//! other's journal entries.
//!
//! A name is free when nobody holds it, when its holder stopped (it marks the name stopped), or when its last
//! heartbeat is older than [`STALE_AFTER`] (its holder was killed). A process that finds its name taken by
//! another while running says so in the log and stops beating; it does not fight over the name.
//!
//! A name silent for [`STALE_AFTER`] — its holder killed, or stopped and not started again — is taken over
//! by another running replica ([`Membership::take_over_silent`]), which takes up what that replica's journal
//! still holds and gives the name back when it is done.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::clock::SharedClock;
use crate::store::{Durability, RecordKey, SharedStore, StoreError};

const NAMESPACE: &str = "core.replicas";
/// How often a replica renews its name.
pub const BEAT_EVERY: Duration = Duration::from_secs(5);
/// After how long without a heartbeat a name is free again.
pub const STALE_AFTER: Duration = Duration::from_secs(20);

/// How many replicas hold their names now: beating within [`STALE_AFTER`] and not stopped.
///
/// # Errors
/// The store's.
pub async fn running(store: &SharedStore, clock: &SharedClock) -> Result<usize, StoreError> {
    let now = clock.now_ms();
    let stale = crate::clock::millis(STALE_AFTER);
    let beats = store.scan(NAMESPACE).await?;
    Ok(beats
        .iter()
        .filter_map(|r| serde_json::from_slice::<Beat>(&r.value).ok())
        .filter(|b| !b.stopped && now.saturating_sub(b.at_ms) < stale)
        .count())
}

/// One heartbeat.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Beat {
    /// A random id of the process holding the name.
    instance: String,
    /// When it last beat.
    at_ms: u64,
    /// Its process id (for the operator's message only).
    pid: u32,
    /// It stopped (the name is free, its journal may still hold events).
    #[serde(default)]
    stopped: bool,
}

/// Why a name could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// Another running process holds the name.
    #[error(
        "`{name}` is in use by another running process (pid {pid}, last seen {seen_s} s ago): give each replica \
         its own name (PALISADE__DISPATCH__REPLICA). If that process is gone, start again in {wait_s} s"
    )]
    Taken {
        /// The name.
        name: String,
        /// The holder's process id (on its own host).
        pid: u32,
        /// Seconds since its last heartbeat.
        seen_s: u64,
        /// Seconds until the name is free unless it beats again.
        wait_s: u64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// This process's hold on its replica name.
pub struct Membership {
    store: SharedStore,
    clock: SharedClock,
    name: String,
    instance: String,
}

impl std::fmt::Debug for Membership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Membership").field("name", &self.name).finish_non_exhaustive()
    }
}

impl Membership {
    /// Takes the name `name` in `store`, or says who holds it.
    ///
    /// # Errors
    /// [`JoinError::Taken`] while another process holds it; the store's errors.
    pub async fn join(store: SharedStore, clock: SharedClock, name: &str) -> Result<Self, JoinError> {
        let random = crate::crypto::random_bytes(16).map_err(|e| StoreError::MasterKey(e.to_string()))?;
        let me = Self { store, clock, name: name.to_string(), instance: crate::crypto::hex(&random) };
        if let Some(held) = me.read().await?
            && held.instance != me.instance
            && !held.stopped
        {
            let now = me.clock.now_ms();
            let age = now.saturating_sub(held.at_ms);
            let stale = u64::try_from(STALE_AFTER.as_millis()).unwrap_or(u64::MAX);
            if age < stale {
                return Err(JoinError::Taken {
                    name: me.name.clone(),
                    pid: held.pid,
                    seen_s: age / 1000,
                    wait_s: (stale - age).div_ceil(1000),
                });
            }
            tracing::warn!(replica = %me.name, "took over a replica name whose holder stopped beating (killed?)");
        }
        me.beat().await?;
        Ok(me)
    }

    fn key(&self) -> RecordKey<'_> {
        RecordKey { namespace: NAMESPACE, subject: None, id: self.name.as_bytes() }
    }

    async fn read(&self) -> Result<Option<Beat>, StoreError> {
        let Some(record) = self.store.get(self.key()).await? else { return Ok(None) };
        Ok(serde_json::from_slice(&record.value).ok())
    }

    async fn beat(&self) -> Result<(), StoreError> {
        self.write(false).await
    }

    async fn write(&self, stopped: bool) -> Result<(), StoreError> {
        let beat =
            Beat { instance: self.instance.clone(), at_ms: self.clock.now_ms(), pid: std::process::id(), stopped };
        let bytes = serde_json::to_vec(&beat)
            .map_err(|e| StoreError::Codec { namespace: NAMESPACE.into(), reason: e.to_string() })?;
        self.store.put(self.key(), &bytes, Durability::Flushed).await
    }

    /// Renews the name every [`BEAT_EVERY`] until `stop`, then gives it back; with each beat the store reads
    /// again what other replicas may have changed ([`palisade_core::Store::refresh`]).
    pub async fn run(self, stop: CancellationToken) {
        let mut tick = tokio::time::interval(BEAT_EVERY);
        tick.tick().await;
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = tick.tick() => {}
            }
            match self.read().await {
                Ok(Some(held)) if held.instance != self.instance => {
                    tracing::error!(
                        replica = %self.name,
                        "another process took this replica name (this one missed its heartbeats); stop one of them"
                    );
                    return;
                }
                Ok(_) => {
                    if let Err(error) = self.beat().await {
                        tracing::warn!(%error, "could not renew the replica name; retrying");
                    }
                    // Identities linked or unlinked on another replica are seen here within a beat.
                    if let Err(error) = self.store.refresh().await {
                        tracing::warn!(%error, "could not read the identity links again; retrying");
                    }
                }
                Err(error) => tracing::warn!(%error, "could not read the replica name; retrying"),
            }
        }
        // Marked stopped rather than removed: a restart takes it at once, and if none comes, another replica
        // takes up what the journal still holds.
        if matches!(self.read().await, Ok(Some(held)) if held.instance == self.instance)
            && let Err(error) = self.write(true).await
        {
            tracing::warn!(%error, "could not give the replica name back; it is free again after a while");
        }
    }

    /// The name this membership holds.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Takes over the names of replicas other than `own` that have been silent for [`STALE_AFTER`] (killed,
    /// or stopped and not started again), each atomically: of two replicas trying at once, one gets it.
    ///
    /// # Errors
    /// The store's.
    pub async fn take_over_silent(
        store: &SharedStore,
        clock: &SharedClock,
        own: &str,
    ) -> Result<Vec<Self>, StoreError> {
        let now = clock.now_ms();
        let stale = crate::clock::millis(STALE_AFTER);
        let mut taken = Vec::new();
        for record in store.scan(NAMESPACE).await? {
            let Ok(name) = String::from_utf8(record.id.clone()) else { continue };
            let Ok(beat) = serde_json::from_slice::<Beat>(&record.value) else { continue };
            if name == own || now.saturating_sub(beat.at_ms) < stale {
                continue;
            }
            let random = crate::crypto::random_bytes(16).map_err(|e| StoreError::MasterKey(e.to_string()))?;
            let me = Self { store: store.clone(), clock: clock.clone(), name, instance: crate::crypto::hex(&random) };
            let fresh = Beat { instance: me.instance.clone(), at_ms: now, pid: std::process::id(), stopped: false };
            let bytes = serde_json::to_vec(&fresh)
                .map_err(|e| StoreError::Codec { namespace: NAMESPACE.into(), reason: e.to_string() })?;
            if store.swap(me.key(), Some(&record), Some(&bytes), Durability::Flushed).await? {
                taken.push(me);
            }
        }
        Ok(taken)
    }

    /// Renews a name taken over; `false` when another process holds it now.
    ///
    /// # Errors
    /// The store's.
    pub async fn renew(&self) -> Result<bool, StoreError> {
        match self.read().await? {
            Some(held) if held.instance == self.instance => self.beat().await.map(|()| true),
            _ => Ok(false),
        }
    }

    /// Gives a name taken over back for good (its journal is empty): removed, free for anyone.
    pub async fn give_back(self) {
        if matches!(self.read().await, Ok(Some(held)) if held.instance == self.instance)
            && let Err(error) = self.store.delete(self.key(), Durability::Flushed).await
        {
            tracing::warn!(%error, replica = %self.name, "could not give a name taken over back; it lapses");
        }
    }
}
