//! Anomaly alerts: sliding-window counts of suspicious signals; when one crosses its `[alerts]` threshold an
//! alert goes to the log, the audit trail and the configured admin chats — at most once per kind per
//! cooldown, so an attack cannot turn alerts into a flood of their own. Rejected webhook requests are only
//! counted here; [`deliver`] writes their summaries.

mod delivery;
mod layer;

pub use delivery::{Notice, deliver};
pub use layer::{Count, CountLayer};

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc;

use crate::audit::Audit;
use crate::clock::{SharedClock, millis};
use crate::config::AlertSettings;
use crate::event::{ChatRef, Platform, UserRef};

/// Every alert rule, as `palisade_alerts_total{kind}` names it.
pub const KINDS: [&str; 6] = [
    "stepup_failures_per_user",
    "stepup_failures_total",
    "messages_per_user",
    "erasures",
    "exports",
    "webhook_rejections",
];

/// Something worth counting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signal {
    /// A failed verification attempt by this user.
    StepUpFailure(UserRef),
    /// A message from this user.
    Message(UserRef),
    /// A user's data was erased.
    Erasure,
    /// A user's data was exported.
    Export,
    /// A webhook request on this platform failed authentication.
    WebhookRejected(Platform),
}

/// A raised alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    /// Which rule (`stepup_failures_per_user`, …).
    pub kind: &'static str,
    /// How many signals crossed the threshold, within how many minutes.
    pub count: usize,
    /// The window, in minutes.
    pub minutes: u64,
    /// The user the rule counts, if it counts per user (admins see only their audit pseudonym).
    pub user: Option<UserRef>,
}

#[derive(Default)]
struct Windows {
    counts: HashMap<(&'static str, Option<UserRef>), VecDeque<u64>>,
    last_alert: HashMap<&'static str, u64>,
    /// When keys with nothing in the window are next forgotten.
    sweep: crate::sweep::Sweep<100_000>,
}

/// Counts signals and raises alerts.
pub struct Alerts {
    // std RwLock: read per signal, replaced by a reload; never held across an await.
    settings: std::sync::RwLock<AlertSettings>,
    /// When alerts were raised during the last hour (for `palisade status`).
    raised: Mutex<VecDeque<u64>>,
    clock: SharedClock,
    audit: Option<Arc<Audit>>,
    // std Mutexes: short map updates, never held across an await.
    windows: Mutex<Windows>,
    /// Rejected requests per (platform, reason) since the last summary.
    rejected: Mutex<BTreeMap<(Platform, String), u64>>,
    tx: mpsc::UnboundedSender<Notice>,
}

/// Most distinct (platform, reason) pairs counted between summaries; more are counted as "other".
const REJECTION_KINDS: usize = 64;

impl std::fmt::Debug for Alerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Alerts")
    }
}

impl Alerts {
    /// Alerts under `settings`; raised alerts arrive on the returned receiver (see [`deliver`]).
    pub fn new(
        settings: AlertSettings,
        clock: SharedClock,
        audit: Option<Arc<Audit>>,
    ) -> (Arc<Self>, mpsc::UnboundedReceiver<Notice>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let settings = std::sync::RwLock::new(settings);
        let raised = Mutex::default();
        (
            Arc::new(Self {
                settings,
                raised,
                clock,
                audit,
                windows: Mutex::default(),
                rejected: Mutex::default(),
                tx,
            }),
            rx,
        )
    }

    /// Replaces the thresholds, window, cooldown and admin chats (a reload); counts so far are kept.
    pub fn set_settings(&self, settings: AlertSettings) {
        *self.settings.write().unwrap_or_else(PoisonError::into_inner) = settings;
    }

    fn settings(&self) -> AlertSettings {
        self.settings.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// How many alerts were raised within the last `within`.
    pub fn raised_within(&self, within: std::time::Duration) -> usize {
        let since = self.clock.now_ms().saturating_sub(millis(within));
        self.raised.lock().unwrap_or_else(PoisonError::into_inner).iter().filter(|t| **t >= since).count()
    }

    fn rule(&self, signal: &Signal) -> (&'static str, u32, Option<UserRef>) {
        let s = self.settings.read().unwrap_or_else(PoisonError::into_inner);
        match signal {
            Signal::StepUpFailure(u) => ("stepup_failures_per_user", s.stepup_failures_per_user, Some(u.clone())),
            Signal::Message(u) => ("messages_per_user", s.messages_per_user, Some(u.clone())),
            Signal::Erasure => ("erasures", s.erasures, None),
            Signal::Export => ("exports", s.exports, None),
            Signal::WebhookRejected(_) => ("webhook_rejections", s.webhook_rejections, None),
        }
    }

    /// Counts `signal`; raises at most one alert per kind per cooldown.
    pub fn observe(&self, signal: Signal) {
        let mut rules = vec![self.rule(&signal)];
        if let Signal::StepUpFailure(_) = signal {
            let total = self.settings.read().unwrap_or_else(PoisonError::into_inner).stepup_failures_total;
            rules.push(("stepup_failures_total", total, None));
        }
        if let Signal::WebhookRejected(p) = &signal {
            crate::metrics::webhook_rejected(*p);
        }
        for (kind, threshold, user) in rules {
            if threshold > 0
                && let Some(alert) = self.count(kind, threshold, user)
            {
                self.raise(alert);
            }
        }
    }

    fn count(&self, kind: &'static str, threshold: u32, user: Option<UserRef>) -> Option<Alert> {
        let now = self.clock.now_ms();
        let (window_len, cooldown) = {
            let s = self.settings.read().unwrap_or_else(PoisonError::into_inner);
            (s.window, s.cooldown)
        };
        let window = millis(window_len);
        let mut w = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        // Forget keys with nothing inside the window, so a stream of new users cannot grow the map.
        let Windows { counts, sweep, .. } = &mut *w;
        sweep.retain(counts, |_, times| times.back().is_some_and(|t| now.saturating_sub(*t) <= window));
        let times = w.counts.entry((kind, user.clone())).or_default();
        times.push_back(now);
        while times.front().is_some_and(|t| now.saturating_sub(*t) > window) || times.len() > threshold as usize {
            times.pop_front();
        }
        let count = times.len();
        if count < threshold as usize {
            return None;
        }
        if w.last_alert.get(kind).is_some_and(|t| now.saturating_sub(*t) < millis(cooldown)) {
            return None;
        }
        w.last_alert.insert(kind, now);
        Some(Alert { kind, count, minutes: window_len.as_secs() / 60, user })
    }

    fn raise(&self, alert: Alert) {
        crate::metrics::alert(alert.kind);
        {
            let now = self.clock.now_ms();
            let mut raised = self.raised.lock().unwrap_or_else(PoisonError::into_inner);
            while raised.front().is_some_and(|t| now.saturating_sub(*t) > 3_600_000) {
                raised.pop_front();
            }
            raised.push_back(now);
        }
        tracing::warn!(kind = alert.kind, count = alert.count, "security alert raised");
        let _ = self.tx.send(Notice::Alert(alert));
    }

    /// Counts a webhook request that failed authentication, in memory only (an attacker controls the rate):
    /// metrics, the alert rule, and a summary the alert task writes once per minute (one log line and one
    /// audit entry per platform and reason).
    pub fn webhook_rejected(&self, platform: Platform, reason: &str) {
        {
            let mut rejected = self.rejected.lock().unwrap_or_else(PoisonError::into_inner);
            let key = (platform, reason.to_string());
            let key = if rejected.len() < REJECTION_KINDS || rejected.contains_key(&key) {
                key
            } else {
                (platform, "other".to_string())
            };
            *rejected.entry(key).or_default() += 1;
        }
        self.observe(Signal::WebhookRejected(platform));
    }

    /// The rejections counted since the last call.
    pub fn take_rejections(&self) -> BTreeMap<(Platform, String), u64> {
        std::mem::take(&mut *self.rejected.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The admins' direct chats.
    pub fn admin_chats(&self) -> Vec<(ChatRef, UserRef)> {
        self.settings()
            .admin_chats
            .iter()
            .filter_map(|s| s.parse::<UserRef>().ok())
            .map(|u| (ChatRef::direct_with(&u), u))
            .collect()
    }
}

impl palisade_core::services::Observer for Alerts {
    fn rejected(&self, platform: Platform, reason: &str) {
        self.webhook_rejected(platform, reason);
    }
}
