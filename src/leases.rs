//! Leases in a shared store: the lead of a role (polling Telegram) held by one replica at a time, renewed
//! while it lives, taken over within [`LEAD_FOR`] when it dies, handed back at once when it stops.
//!
//! A lease is one record in `core.leases` naming its holder (a random id per process) and when it lapses;
//! every change is a compare-and-set ([`palisade_core::Store::swap`]), so two replicas never both take it.
//! A holder that cannot renew in time (stalled, cut off from the store) is told through [`Lead::lost`] and
//! must stop the role's work; until it notices, the work of two holders can overlap for a moment, which the
//! roles tolerate (a Telegram update polled twice is claimed once).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::adapter::{Lead, Leadership};
use crate::clock::{SharedClock, millis};
use crate::store::{Durability, Record, RecordKey, SharedStore, StoreError};

const NAMESPACE: &str = "core.leases";
/// How long a lease lasts without renewal: the longest a dead holder keeps a role.
pub const LEAD_FOR: Duration = Duration::from_secs(9);
/// How often a holder renews.
const RENEW_EVERY: Duration = Duration::from_secs(3);
/// How often a replica that does not lead looks whether the lease is free.
const LOOK_EVERY: Duration = Duration::from_secs(1);

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Held {
    holder: String,
    until_ms: u64,
    /// Grows with every new holder (for the log: how often the lead changed hands).
    term: u64,
}

/// The leases of this process over one shared store (cheap to clone).
#[derive(Clone)]
pub struct Leases {
    store: SharedStore,
    clock: SharedClock,
    instance: Arc<str>,
}

impl std::fmt::Debug for Leases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leases").field("instance", &self.instance).finish_non_exhaustive()
    }
}

/// What one attempt found.
enum Attempt {
    Taken(Held),
    HeldElsewhere,
}

impl Leases {
    /// Leases over `store` (shared with the other replicas).
    ///
    /// # Errors
    /// When no random id can be drawn for this process.
    pub fn new(store: SharedStore, clock: SharedClock) -> Result<Self, StoreError> {
        let random = crate::crypto::random_bytes(12).map_err(|e| StoreError::MasterKey(e.to_string()))?;
        Ok(Self { store, clock, instance: crate::crypto::hex(&random).into() })
    }

    fn key(role: &str) -> RecordKey<'_> {
        RecordKey { namespace: NAMESPACE, subject: None, id: role.as_bytes() }
    }

    async fn read(&self, role: &str) -> Result<(Option<Record>, Option<Held>), StoreError> {
        let record = self.store.get(Self::key(role)).await?;
        let held = record.as_ref().and_then(|r| serde_json::from_slice(&r.value).ok());
        Ok((record, held))
    }

    /// Takes the lease when it is free or lapsed.
    async fn attempt(&self, role: &str) -> Result<Attempt, StoreError> {
        loop {
            let now = self.clock.now_ms();
            let (record, held) = self.read(role).await?;
            let term = match &held {
                Some(h) if h.until_ms >= now => return Ok(Attempt::HeldElsewhere),
                Some(h) => h.term + 1,
                None => 1,
            };
            let mine = Held { holder: self.instance.to_string(), until_ms: now + millis(LEAD_FOR), term };
            let value = serde_json::to_vec(&mine).map_err(|e| codec(&e))?;
            if self.store.swap(Self::key(role), record.as_ref(), Some(&value), Durability::Flushed).await? {
                return Ok(Attempt::Taken(mine));
            }
        }
    }

    /// Extends the lease if it is still ours; `None` when it is not.
    async fn renew(&self, role: &str) -> Result<Option<Held>, StoreError> {
        loop {
            let (record, held) = self.read(role).await?;
            let Some(mut held) = held.filter(|h| *h.holder == *self.instance) else { return Ok(None) };
            held.until_ms = self.clock.now_ms() + millis(LEAD_FOR);
            let value = serde_json::to_vec(&held).map_err(|e| codec(&e))?;
            if self.store.swap(Self::key(role), record.as_ref(), Some(&value), Durability::Flushed).await? {
                return Ok(Some(held));
            }
        }
    }

    /// Renews the lease while it is ours; cancels `lost` when it is not any more (or could not be renewed
    /// before it lapsed), and hands it back when `stop` is cancelled.
    async fn keep(self, role: String, mut held: Held, lost: CancellationToken, stop: CancellationToken) {
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(RENEW_EVERY) => {}
            }
            match self.renew(&role).await {
                Ok(Some(renewed)) => held = renewed,
                Ok(None) => {
                    tracing::error!(%role, "lost the lead to another replica (this one stalled); stopping that work");
                    lost.cancel();
                    return;
                }
                Err(error) if self.clock.now_ms() > held.until_ms => {
                    tracing::error!(%role, %error, "could not renew the lead before it lapsed; stopping that work");
                    lost.cancel();
                    return;
                }
                Err(error) => tracing::warn!(%role, %error, "could not renew the lead; retrying"),
            }
        }
        self.hand_back(&role).await;
    }

    /// Gives the lease up if it is still ours, so another replica takes over at once.
    async fn hand_back(&self, role: &str) {
        loop {
            match self.read(role).await {
                Ok((record, Some(held))) if *held.holder == *self.instance => {
                    match self.store.swap(Self::key(role), record.as_ref(), None, Durability::Flushed).await {
                        Ok(true) => tracing::info!(%role, "handed the lead back"),
                        Ok(false) => continue,
                        Err(error) => tracing::warn!(%role, %error, "could not hand the lead back; it lapses"),
                    }
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%role, %error, "could not hand the lead back; it lapses"),
            }
            return;
        }
    }
}

/// Hands the lease back when the [`Lead`] is dropped.
struct HandBack(CancellationToken);

impl Drop for HandBack {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

impl Leases {
    /// The lead of `role`, held and renewed from now on.
    fn held(&self, role: &str, held: Held) -> Lead {
        tracing::info!(%role, term = held.term, "this replica leads");
        let (lost, keeping) = (CancellationToken::new(), CancellationToken::new());
        tokio::spawn(self.clone().keep(role.to_string(), held, lost.clone(), keeping.clone()));
        Lead::new(lost, Box::new(HandBack(keeping)))
    }
}

#[async_trait]
impl Leadership for Leases {
    async fn try_lead(&self, role: &str) -> Option<Lead> {
        match self.attempt(role).await {
            Ok(Attempt::Taken(held)) => Some(self.held(role, held)),
            Ok(Attempt::HeldElsewhere) => None,
            Err(error) => {
                tracing::warn!(%role, %error, "could not ask for the lead");
                None
            }
        }
    }

    async fn replicas(&self) -> usize {
        match crate::replicas::running(&self.store, &self.clock).await {
            Ok(n) => n,
            Err(error) => {
                tracing::warn!(%error, "could not count the replicas running");
                1
            }
        }
    }

    async fn lead(&self, role: &str, stop: &CancellationToken) -> Option<Lead> {
        let mut told = false;
        loop {
            match self.attempt(role).await {
                Ok(Attempt::Taken(held)) => return Some(self.held(role, held)),
                Ok(Attempt::HeldElsewhere) if !told => {
                    tracing::info!(%role, "another replica leads; standing by to take over");
                    told = true;
                }
                Ok(Attempt::HeldElsewhere) => {}
                Err(error) => tracing::warn!(%role, %error, "could not ask for the lead; retrying"),
            }
            tokio::select! {
                () = stop.cancelled() => return None,
                () = tokio::time::sleep(LOOK_EVERY) => {}
            }
        }
    }
}

fn codec(e: &serde_json::Error) -> StoreError {
    StoreError::Codec { namespace: NAMESPACE.into(), reason: e.to_string() }
}
