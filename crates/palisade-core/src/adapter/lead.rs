//! Work only one replica may do at a time — polling Telegram with one bot token, where a second poller
//! takes updates from the first. An adapter asks its [`super::EventSink`] for the lead of such a role; a
//! runtime whose replicas share a store answers with a lease there, a single process leads at once.

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

/// Hands out the lead of roles among the replicas of one bot.
#[async_trait]
pub trait Leadership: Send + Sync + 'static {
    /// Waits until this process leads `role`, or returns `None` once `stop` is cancelled.
    async fn lead(&self, role: &str, stop: &CancellationToken) -> Option<Lead>;

    /// Takes the lead of `role` if nobody holds it now; `None` otherwise (one attempt, no waiting).
    async fn try_lead(&self, role: &str) -> Option<Lead>;

    /// How many replicas are running now (this one included): for spreading several roles of one kind
    /// (shards) evenly.
    async fn replicas(&self) -> usize;
}

/// The lead of one role, held until dropped (then handed back at once, so another replica takes it over
/// without waiting for it to lapse).
#[must_use = "the lead is handed back when dropped"]
pub struct Lead {
    lost: CancellationToken,
    _hold: Option<Box<dyn Send + Sync>>,
}

impl std::fmt::Debug for Lead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lead").field("lost", &self.lost.is_cancelled()).finish_non_exhaustive()
    }
}

impl Lead {
    /// A lead that `lost` ends early; `hold` is dropped when the lead is (it hands the lead back).
    pub fn new(lost: CancellationToken, hold: Box<dyn Send + Sync>) -> Self {
        Self { lost, _hold: Some(hold) }
    }

    /// The lead of a process that runs alone: never lost.
    pub fn alone() -> Self {
        Self { lost: CancellationToken::new(), _hold: None }
    }

    /// Cancelled when the lead was lost while held (this process could not renew it in time and another
    /// replica took over): stop the role's work at once.
    pub fn lost(&self) -> &CancellationToken {
        &self.lost
    }
}
