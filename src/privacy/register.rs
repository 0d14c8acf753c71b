//! The register of rights requests: every access, export, rectification and erasure, with its statutory
//! deadline (GDPR one month, counted as 30 days; CCPA 45 days), so the operator can show what was done and
//! see what is open or overdue. Subjects appear only as audit pseudonyms.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::audit::Audit;
use crate::clock::SharedClock;
use crate::config::Regime;
use crate::event::UserRef;
use crate::store::{Durability, RecordKey, SharedStore, StoreError};

const NAMESPACE: &str = "core.privacy.requests";
const DAY_MS: u64 = 86_400_000;

/// What was asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestKind {
    /// See or export my data (GDPR Art. 15/20, CCPA right to know).
    Access,
    /// Correct my data (Art. 16, CCPA correct).
    Rectification,
    /// Erase my data (Art. 17, CCPA delete).
    Erasure,
}

/// One request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Register id.
    pub id: String,
    /// What was asked.
    pub kind: RequestKind,
    /// The subject's audit pseudonym.
    pub subject: String,
    /// Where it came in (`chat`, `cli`, `email`…).
    pub channel: String,
    /// When it came in, ms since the epoch.
    pub received_at_ms: u64,
    /// When it must be answered by.
    pub due_at_ms: u64,
    /// When it was completed, if it was.
    pub completed_at_ms: Option<u64>,
}

impl Request {
    /// Open and past its deadline at `now_ms`.
    pub fn is_overdue(&self, now_ms: u64) -> bool {
        self.completed_at_ms.is_none() && now_ms > self.due_at_ms
    }
}

/// The register.
pub struct Register {
    store: SharedStore,
    audit: Arc<Audit>,
    regimes: Vec<Regime>,
    clock: SharedClock,
}

impl std::fmt::Debug for Register {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Register")
    }
}

fn codec(e: &serde_json::Error) -> StoreError {
    StoreError::Codec { namespace: NAMESPACE.into(), reason: e.to_string() }
}

impl Register {
    /// A register over `store` applying `regimes`' deadlines.
    pub fn new(store: SharedStore, audit: Arc<Audit>, regimes: Vec<Regime>, clock: SharedClock) -> Self {
        Self { store, audit, regimes, clock }
    }

    fn deadline_ms(&self, received: u64) -> u64 {
        let days = self.regimes.iter().map(|r| match r {
            Regime::Gdpr => 30,
            Regime::Ccpa => 45,
        });
        received + days.min().unwrap_or(30) * DAY_MS
    }

    async fn save(&self, r: &Request) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(r).map_err(|e| codec(&e))?;
        self.store
            .put(RecordKey { namespace: NAMESPACE, subject: None, id: r.id.as_bytes() }, &bytes, Durability::Flushed)
            .await
    }

    /// Registers a request received now; `done` marks it completed at once (in-chat requests are).
    pub async fn add(
        &self,
        kind: RequestKind,
        user: &UserRef,
        channel: &str,
        done: bool,
    ) -> Result<Request, StoreError> {
        let subject = self.audit.pseudonym(user).await?;
        self.add_for(kind, subject, channel, done).await
    }

    /// Registers a request by the person whose audit pseudonym is `subject` (taken before their erasure).
    pub async fn add_for(
        &self,
        kind: RequestKind,
        subject: String,
        channel: &str,
        done: bool,
    ) -> Result<Request, StoreError> {
        let now = self.clock.now_ms();
        let suffix = crate::crypto::random_bytes(3).map_err(|e| StoreError::MasterKey(e.to_string()))?;
        let id = format!("{now:013}-{}", crate::crypto::hex(&suffix));
        let r = Request {
            id,
            kind,
            subject,
            channel: channel.to_string(),
            received_at_ms: now,
            due_at_ms: self.deadline_ms(now),
            completed_at_ms: done.then_some(now),
        };
        self.save(&r).await?;
        Ok(r)
    }

    /// Registers a request that was received and completed now.
    pub async fn completed(&self, kind: RequestKind, user: &UserRef, channel: &str) -> Result<Request, StoreError> {
        self.add(kind, user, channel, true).await
    }

    /// Marks request `id` completed.
    pub async fn close(&self, id: &str) -> Result<bool, StoreError> {
        let Some(mut r) = self.all().await?.into_iter().find(|r| r.id == id) else { return Ok(false) };
        r.completed_at_ms = Some(self.clock.now_ms());
        self.save(&r).await?;
        Ok(true)
    }

    /// Every request, oldest first.
    pub async fn all(&self) -> Result<Vec<Request>, StoreError> {
        self.store
            .list(NAMESPACE, None)
            .await?
            .iter()
            .map(|rec| serde_json::from_slice(&rec.value).map_err(|e| codec(&e)))
            .collect()
    }

    /// Requests of the subject with this pseudonym.
    pub async fn of(&self, pseudonym: &str) -> Result<Vec<Request>, StoreError> {
        Ok(self.all().await?.into_iter().filter(|r| r.subject == pseudonym).collect())
    }
}
