//! A user's two-factor state: the secret, the replay marker, failure counters and recovery codes, kept as one
//! sealed record per user in `core.stepup` and flushed on every change.

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::recovery::RecoveryCode;
use crate::event::UserRef;
use crate::store::{Durability, RecordKey, SharedStore, StoreError, Subject};

const NAMESPACE: &str = "core.stepup";
const ID: &[u8] = b"enrolment";

/// The TOTP secret bytes; wiped on drop, never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct SecretBytes(pub Vec<u8>);

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBytes([redacted])")
    }
}

/// One user's enrolment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolment {
    /// The shared TOTP secret in force (empty before the first setup completes).
    pub secret: SecretBytes,
    /// A new secret from `/2fa setup`, waiting for its first valid code; the current one stays in force.
    pub candidate: Option<SecretBytes>,
    /// True once a setup completed.
    pub active: bool,
    /// When setup completed, ms since the epoch.
    pub enrolled_at_ms: u64,
    /// The last accepted time step; a code for this step or an earlier one is a replay.
    pub last_step: Option<u64>,
    /// Consecutive failed attempts.
    pub failures: u32,
    /// No attempts (other than recovery codes) before this time, ms since the epoch.
    pub locked_until_ms: u64,
    /// Locked until a recovery code or an admin reset (after too many failures).
    pub locked_for_good: bool,
    /// Recovery codes, hashed.
    pub recovery: Vec<RecoveryCode>,
    /// The random salt the recovery codes are hashed with (empty in enrolments from before salts).
    #[serde(default)]
    pub recovery_salt: Vec<u8>,
}

impl Enrolment {
    /// An enrolment whose secret is `secret` (active or not is set by the caller).
    pub fn pending(secret: Vec<u8>) -> Self {
        Self {
            secret: SecretBytes(secret),
            candidate: None,
            active: false,
            enrolled_at_ms: 0,
            last_step: None,
            failures: 0,
            locked_until_ms: 0,
            locked_for_good: false,
            recovery: Vec::new(),
            recovery_salt: Vec::new(),
        }
    }

    /// Unused recovery codes left.
    pub fn recovery_left(&self) -> usize {
        self.recovery.iter().filter(|c| c.used_at_ms.is_none()).count()
    }
}

/// Loads and saves enrolments.
#[derive(Clone)]
pub struct Enrolments {
    store: SharedStore,
}

impl std::fmt::Debug for Enrolments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Enrolments")
    }
}

fn codec(e: &serde_json::Error) -> StoreError {
    StoreError::Codec { namespace: NAMESPACE.into(), reason: e.to_string() }
}

impl Enrolments {
    /// Enrolments kept in `store`.
    pub fn new(store: SharedStore) -> Self {
        Self { store }
    }

    /// A user's enrolment, active or pending.
    pub async fn load(&self, user: &UserRef) -> Result<Option<Enrolment>, StoreError> {
        let subject = Subject::user(user);
        let Some(rec) = self.store.get(RecordKey { namespace: NAMESPACE, subject: Some(&subject), id: ID }).await?
        else {
            return Ok(None);
        };
        serde_json::from_slice(&rec.value).map(Some).map_err(|e| codec(&e))
    }

    /// Saves and flushes (replay markers and counters must survive a crash).
    pub async fn save(&self, user: &UserRef, enrolment: &Enrolment) -> Result<(), StoreError> {
        let subject = Subject::user(user);
        let bytes = zeroize::Zeroizing::new(serde_json::to_vec(enrolment).map_err(|e| codec(&e))?);
        self.store
            .put(RecordKey { namespace: NAMESPACE, subject: Some(&subject), id: ID }, &bytes, Durability::Flushed)
            .await
    }

    /// Removes a user's enrolment (disable, admin reset); flushed.
    pub async fn remove(&self, user: &UserRef) -> Result<bool, StoreError> {
        let subject = Subject::user(user);
        self.store
            .delete(RecordKey { namespace: NAMESPACE, subject: Some(&subject), id: ID }, Durability::Flushed)
            .await
    }
}
