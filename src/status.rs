//! What `palisade status` shows about a running bot: each adapter's link to its platform and its last event,
//! the queues, the store, the audit chain, rights requests and recent alerts.
//!
//! [`Board`] collects what adapters report (it is the [`Observer`] handed to them, forwarding rejected
//! requests to [`Alerts`]); [`Load`] holds the dispatcher's queue depths as atomics the scheduler writes and
//! anyone reads; [`Status`] is the report, as JSON for scripts and as text for people.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::adapter::Envelope;
use crate::alerts::Alerts;
use crate::clock::SharedClock;
use crate::event::Platform;
use crate::services::{Connection, Observer};

/// One adapter's state, as last reported.
#[derive(Clone, Debug)]
struct Line {
    state: Connection,
    since_ms: u64,
    listens: Option<String>,
}

/// Adapters' connection states, and the observer adapters report to.
pub struct Board {
    alerts: Arc<Alerts>,
    clock: SharedClock,
    // std Mutex: a map update per state change; never held across an await.
    lines: Mutex<BTreeMap<Platform, Line>>,
}

impl std::fmt::Debug for Board {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Board")
    }
}

impl Board {
    /// A board that forwards rejected requests to `alerts`.
    pub fn new(alerts: Arc<Alerts>, clock: SharedClock) -> Arc<Self> {
        Arc::new(Self { alerts, clock, lines: Mutex::default() })
    }

    /// Lists an adapter before it starts; `listens` is the webhook address it will bind, if any.
    pub fn add(&self, platform: Platform, listens: Option<String>) {
        let line = Line { state: Connection::Starting, since_ms: self.clock.now_ms(), listens };
        self.lines.lock().unwrap_or_else(PoisonError::into_inner).insert(platform, line);
    }

    /// Sets `platform`'s state (the same as an adapter reporting it).
    pub fn set(&self, platform: Platform, state: Connection) {
        let now = self.clock.now_ms();
        let mut lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        let line = lines.entry(platform).or_insert_with(|| Line { state: state.clone(), since_ms: now, listens: None });
        if line.state != state {
            tracing::info!(%platform, state = state.label(), "adapter connection");
            line.state = state;
            line.since_ms = now;
        }
        crate::metrics::adapter_up(platform, line.state.is_up());
    }

    /// The webhook address `platform`'s adapter binds, if any.
    pub fn listens(&self, platform: Platform) -> Option<String> {
        self.lines.lock().unwrap_or_else(PoisonError::into_inner).get(&platform).and_then(|l| l.listens.clone())
    }

    fn snapshot(&self) -> Vec<(Platform, Line)> {
        self.lines.lock().unwrap_or_else(PoisonError::into_inner).iter().map(|(p, l)| (*p, l.clone())).collect()
    }
}

impl Observer for Board {
    fn rejected(&self, platform: Platform, reason: &str) {
        self.alerts.webhook_rejected(platform, reason);
    }

    fn connection(&self, platform: Platform, state: Connection) {
        self.set(platform, state);
    }
}

/// The dispatcher's queue depths and each platform's last event, written by the scheduler.
#[derive(Default)]
pub struct Load {
    /// Accepted events waiting for their conversation's turn.
    pub waiting: AtomicUsize,
    /// Handlers running.
    pub running: AtomicUsize,
    intake: OnceLock<mpsc::WeakSender<Envelope>>,
    // std Mutex: one insert per event on the scheduler's task; never held across an await.
    last_event: Mutex<BTreeMap<Platform, tokio::time::Instant>>,
}

impl std::fmt::Debug for Load {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Load").field("waiting", &self.waiting).field("running", &self.running).finish()
    }
}

impl Load {
    /// Watches the intake queue's depth (without keeping it open).
    pub fn watch_intake(&self, tx: &mpsc::Sender<Envelope>) {
        let _ = self.intake.set(tx.downgrade());
    }

    /// Events submitted by adapters and not yet taken by the scheduler.
    pub fn intake(&self) -> usize {
        self.intake.get().and_then(mpsc::WeakSender::upgrade).map_or(0, |tx| tx.max_capacity() - tx.capacity())
    }

    /// Notes an event from `platform`, now.
    pub fn event(&self, platform: Platform) {
        self.last_event.lock().unwrap_or_else(PoisonError::into_inner).insert(platform, tokio::time::Instant::now());
    }

    /// Notes the scheduler's counts.
    pub fn set(&self, waiting: usize, running: usize) {
        self.waiting.store(waiting, Ordering::Relaxed);
        self.running.store(running, Ordering::Relaxed);
    }

    fn last_event(&self, platform: Platform) -> Option<std::time::Duration> {
        self.last_event.lock().unwrap_or_else(PoisonError::into_inner).get(&platform).map(|t| t.elapsed())
    }
}

/// The result of the last audit verification the running bot made.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditCheck {
    /// The last entry the verification covered (the head when it ran).
    pub verified_seq: u64,
    /// When it ran (ms since the epoch).
    pub at_ms: u64,
    /// The first finding, if the chain was not intact.
    pub finding: Option<String>,
}

/// One adapter's line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdapterStatus {
    /// `telegram`, `slack`, …
    pub platform: String,
    /// `starting`, `connected`, `listening`, `reconnecting`, `stopped`.
    pub state: String,
    /// The webhook address, or why the link is down.
    pub detail: Option<String>,
    /// Seconds in this state.
    pub for_seconds: u64,
    /// Seconds since the last event from this platform, if there was one.
    pub last_event_seconds_ago: Option<u64>,
}

/// Queue depths.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queues {
    /// Submitted by adapters, not yet taken in.
    pub intake: usize,
    /// Accepted, waiting for their conversation's turn.
    pub waiting: usize,
    /// Handlers running now.
    pub handlers_running: usize,
    /// Replies queued for sending.
    pub outbox: usize,
}

/// The store.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreStatus {
    /// `sled`, `memory` or `redis`.
    pub backend: String,
    /// The data directory.
    pub path: String,
    /// Bytes on disk; `None` when the store is not on local disk (on Redis its `INFO memory` tells).
    pub bytes: Option<u64>,
    /// Data subjects with a key.
    pub subjects: u64,
}

/// The audit trail.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditStatus {
    /// Entries in the chain (its head's sequence number).
    pub entries: u64,
    /// The last verification, if one ran since start.
    pub last_check: Option<AuditCheck>,
}

/// Rights requests.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RightsStatus {
    /// Not yet completed.
    pub open: usize,
    /// Not completed and past their deadline.
    pub overdue: usize,
}

/// What `palisade status` reports.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The running binary's version.
    pub version: String,
    /// Its process id.
    pub pid: u32,
    /// Seconds since it started.
    pub uptime_seconds: u64,
    /// Every adapter.
    pub adapters: Vec<AdapterStatus>,
    /// Queue depths.
    pub queues: Queues,
    /// The store.
    pub store: StoreStatus,
    /// The audit trail.
    pub audit: AuditStatus,
    /// Rights requests.
    pub rights_requests: RightsStatus,
    /// Alerts raised in the last hour.
    pub alerts_last_hour: usize,
}

/// Builds the adapter lines of a status report.
pub fn adapters(board: &Board, load: &Load, now_ms: u64) -> Vec<AdapterStatus> {
    let secs = |t: u64| now_ms.saturating_sub(t) / 1000;
    board
        .snapshot()
        .into_iter()
        .map(|(platform, line)| {
            let detail = match &line.state {
                Connection::Listening(addr) => Some(addr.clone()),
                Connection::Reconnecting(why) => Some(why.clone()),
                _ => line.listens.clone(),
            };
            AdapterStatus {
                platform: platform.to_string(),
                state: line.state.label().to_string(),
                detail,
                for_seconds: secs(line.since_ms),
                last_event_seconds_ago: load.last_event(platform).map(|d| d.as_secs()),
            }
        })
        .collect()
}

impl Status {
    /// The report as a person reads it.
    pub fn render(&self) -> String {
        let mut out = format!("palisade {} (pid {}), up {}\n", self.version, self.pid, ago(self.uptime_seconds));
        out.push_str("adapters:\n");
        for a in &self.adapters {
            let detail = a.detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default();
            let last =
                a.last_event_seconds_ago.map_or("no event yet".to_string(), |s| format!("last event {} ago", ago(s)));
            out.push_str(&format!("  {:<9} {}{detail} for {}; {last}\n", a.platform, a.state, ago(a.for_seconds)));
        }
        let q = &self.queues;
        out.push_str(&format!(
            "queues: intake {}, waiting {}, handlers running {}, replies to send {}\n",
            q.intake, q.waiting, q.handlers_running, q.outbox
        ));
        let s = &self.store;
        let size = match (s.bytes, s.backend.as_str()) {
            (Some(bytes), _) => format!("{bytes} bytes"),
            (None, "redis") => "size kept by Redis (see its INFO memory)".to_string(),
            (None, _) => "nothing on disk".to_string(),
        };
        out.push_str(&format!("store: {} at {}, {size}, {} data subject(s)\n", s.backend, s.path, s.subjects));
        let check = match &self.audit.last_check {
            None => "not verified yet".to_string(),
            Some(c) => match &c.finding {
                None => format!("verified intact up to entry {}", c.verified_seq),
                Some(f) => format!("NOT INTACT at the last check: {f}"),
            },
        };
        let entries =
            if self.audit.entries == 1 { "1 entry".to_string() } else { format!("{} entries", self.audit.entries) };
        out.push_str(&format!("audit: {entries}, {check}\n"));
        let r = &self.rights_requests;
        let overdue = if r.overdue > 0 { format!(", {} OVERDUE", r.overdue) } else { String::new() };
        out.push_str(&format!("rights requests: {} open{overdue}\n", r.open));
        out.push_str(&format!("alerts in the last hour: {}\n", self.alerts_last_hour));
        out
    }
}

/// `3725` → `1h 2m`.
fn ago(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {}s", s / 60, s % 60),
        s if s < 86_400 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        s => format!("{}d {}h", s / 86_400, (s % 86_400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(ago(5), "5s");
        assert_eq!(ago(125), "2m 5s");
        assert_eq!(ago(3725), "1h 2m");
        assert_eq!(ago(90_000), "1d 1h");
    }

    #[test]
    fn the_store_line_names_a_size_only_for_a_store_on_disk() {
        let line = |backend: &str, bytes: Option<u64>| {
            let store = StoreStatus { backend: backend.into(), path: "p".into(), bytes, subjects: 2 };
            let status = Status { store, ..Status::default() };
            status.render().lines().find(|l| l.starts_with("store:")).unwrap_or_default().to_string()
        };
        assert_eq!(line("sled", Some(4096)), "store: sled at p, 4096 bytes, 2 data subject(s)");
        assert_eq!(
            line("redis", None),
            "store: redis at p, size kept by Redis (see its INFO memory), 2 data subject(s)"
        );
        assert_eq!(line("memory", None), "store: memory at p, nothing on disk, 2 data subject(s)");
    }
}
