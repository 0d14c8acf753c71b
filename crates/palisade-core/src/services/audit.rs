//! The tamper-evident audit trail, as plugins and adapters see it.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::event::UserRef;
use crate::store::StoreError;

/// How the audited action ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It happened as asked.
    Success,
    /// It was attempted and failed (a wrong code, a refused request).
    Failure,
    /// It was refused by policy (locked, not allowed, forged).
    Denied,
    /// Informational (configuration loaded, key rotated).
    Info,
}

/// Appends entries to the audit trail. Every entry is durable before `record` returns.
#[async_trait]
pub trait AuditLog: Send + Sync + 'static {
    /// Appends an entry about `actor` (stored as a pseudonym, never the id) and returns its sequence number.
    /// `details` must hold no secrets and no personal data.
    async fn record(
        &self,
        event: &str,
        actor: Option<&UserRef>,
        outcome: Outcome,
        details: &[(&str, String)],
    ) -> Result<u64, StoreError>;

    /// Like [`AuditLog::record`], but a failure is logged instead of returned, for call sites where the
    /// action already happened and must still be answered.
    async fn note(&self, event: &str, actor: Option<&UserRef>, outcome: Outcome, details: &[(&str, String)]) {
        if let Err(error) = self.record(event, actor, outcome, details).await {
            tracing::error!(event, %error, "could not write an audit entry");
        }
    }
}
