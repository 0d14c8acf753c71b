//! The running bot watching itself: queue depths every few seconds, store size and rights requests every
//! minute, and the whole audit chain verified at start and every `[monitoring] audit_verify_every` — as
//! metrics for alert rules and for `palisade status`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::audit::Audit;
use crate::clock::{Clock, SharedClock};
use crate::outboxes::Outboxes;
use crate::privacy::Privacy;
use crate::status::{AuditCheck, Load};

/// How often queue depths are sampled.
const SAMPLE: Duration = Duration::from_secs(5);
/// Every how many samples the store size and the rights requests are read.
const SLOW_EVERY: u32 = 12;

/// The last audit verification, shared with `palisade status`.
pub type LastCheck = Arc<Mutex<Option<AuditCheck>>>;

/// What the watch reads.
pub struct Watch {
    /// The dispatcher's queue depths.
    pub load: Arc<Load>,
    /// The send scheduler.
    pub outboxes: Outboxes,
    /// The data directory (its size), when the store is on local disk (`None` on Redis, which keeps its own
    /// memory figures).
    pub data_dir: Option<PathBuf>,
    /// The rights-request register.
    pub privacy: Arc<Privacy>,
    /// The audit trail.
    pub audit: Arc<Audit>,
    /// How often the chain is verified.
    pub audit_every: Duration,
    /// Where the result goes.
    pub last_check: LastCheck,
    /// Time.
    pub clock: SharedClock,
}

impl Watch {
    /// Samples until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        let mut sample = tokio::time::interval(SAMPLE);
        let mut verify = tokio::time::interval(self.audit_every);
        let mut n: u32 = 0;
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = sample.tick() => {
                    self.queues();
                    if n.is_multiple_of(SLOW_EVERY) {
                        self.slow().await;
                    }
                    n = n.wrapping_add(1);
                }
                _ = verify.tick() => {
                    check_audit(&self.audit, &self.last_check, &*self.clock).await;
                }
            }
        }
    }

    fn queues(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        crate::metrics::queue_depth("intake", self.load.intake());
        crate::metrics::queue_depth("waiting", self.load.waiting.load(Relaxed));
        crate::metrics::queue_depth("running", self.load.running.load(Relaxed));
        crate::metrics::queue_depth("outbox", self.outboxes.queued());
    }

    async fn slow(&self) {
        if let Some(dir) = self.data_dir.clone()
            && let Ok(bytes) = tokio::task::spawn_blocking(move || crate::health::disk_usage(&dir)).await
        {
            crate::metrics::store_bytes(bytes);
        }
        match rights(&self.privacy, &*self.clock).await {
            Ok((open, overdue)) => crate::metrics::rights_requests(open, overdue),
            Err(error) => tracing::warn!(%error, "could not read the rights-request register"),
        }
    }
}

/// Rights requests open, and overdue, now.
pub async fn rights(privacy: &Privacy, clock: &dyn Clock) -> Result<(usize, usize), crate::store::StoreError> {
    let now = clock.now_ms();
    let all = privacy.register().all().await?;
    let open: Vec<_> = all.iter().filter(|r| r.completed_at_ms.is_none()).collect();
    let overdue = open.iter().filter(|r| r.is_overdue(now)).count();
    Ok((open.len(), overdue))
}

/// Verifies the whole chain now and records the result (log, metrics, `last`).
pub async fn check_audit(audit: &Audit, last: &LastCheck, clock: &dyn Clock) -> Option<AuditCheck> {
    let at_ms = clock.now_ms();
    let (findings, seq) = match (audit.verify(None).await, audit.length().await) {
        (Ok(findings), Ok(seq)) => (findings, seq),
        (Err(error), _) | (_, Err(error)) => {
            tracing::error!(%error, "could not verify the audit trail");
            return None;
        }
    };
    let finding = findings.first().map(ToString::to_string);
    match &finding {
        None => tracing::info!(audit_seq = seq, "audit trail verified intact"),
        Some(f) => tracing::error!(audit_seq = seq, finding = %f, "the audit trail is NOT intact"),
    }
    crate::metrics::audit_checked(seq, at_ms, finding.is_none());
    let check = AuditCheck { verified_seq: seq, at_ms, finding };
    *last.lock().unwrap_or_else(PoisonError::into_inner) = Some(check.clone());
    Some(check)
}
