//! Anomaly alerts: sliding-window counts of suspicious signals; when one crosses its `[alerts]` threshold an
//! alert goes to the log, the audit trail and the configured admin chats — at most once per kind per
//! cooldown, so an attack cannot turn alerts into a flood of their own.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc;

use crate::audit::{Audit, Outcome};
use crate::clock::{SharedClock, millis};
use crate::config::AlertSettings;
use crate::event::{ChatKind, ChatRef, Platform, UserRef};
use crate::reply::{Reply, ReplyBody};

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
    /// What to tell the admins (no personal data: users appear as audit pseudonyms).
    pub text: String,
}

#[derive(Default)]
struct Windows {
    counts: HashMap<(&'static str, Option<UserRef>), VecDeque<u64>>,
    last_alert: HashMap<&'static str, u64>,
}

/// Counts signals and raises alerts.
pub struct Alerts {
    settings: AlertSettings,
    clock: SharedClock,
    audit: Option<Arc<Audit>>,
    // std Mutex: short map updates, never held across an await.
    windows: Mutex<Windows>,
    tx: mpsc::UnboundedSender<Notice>,
}

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
        (Arc::new(Self { settings, clock, audit, windows: Mutex::default(), tx }), rx)
    }

    fn rule(&self, signal: &Signal) -> (&'static str, u32, Option<UserRef>) {
        let s = &self.settings;
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
            rules.push(("stepup_failures_total", self.settings.stepup_failures_total, None));
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
        let window = millis(self.settings.window);
        let mut w = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if w.counts.len() > 100_000 {
            // Forget keys with nothing inside the window, so a stream of new users cannot grow the map.
            w.counts.retain(|_, times| times.back().is_some_and(|t| now.saturating_sub(*t) <= window));
        }
        let times = w.counts.entry((kind, user.clone())).or_default();
        times.push_back(now);
        while times.front().is_some_and(|t| now.saturating_sub(*t) > window) || times.len() > threshold as usize {
            times.pop_front();
        }
        let count = times.len();
        if count < threshold as usize {
            return None;
        }
        if w.last_alert.get(kind).is_some_and(|t| now.saturating_sub(*t) < millis(self.settings.cooldown)) {
            return None;
        }
        w.last_alert.insert(kind, now);
        let who = match (&user, &self.audit) {
            (Some(u), Some(a)) => a.pseudonym(u).map(|p| format!(" by user {p}")).unwrap_or_default(),
            _ => String::new(),
        };
        let minutes = self.settings.window.as_secs() / 60;
        Some(Alert { kind, text: format!("Security alert: {count} × {kind}{who} within {minutes} min.") })
    }

    fn raise(&self, alert: Alert) {
        crate::metrics::alert(alert.kind);
        tracing::warn!(kind = alert.kind, "{}", alert.text);
        let _ = self.tx.send(Notice::Alert(alert));
    }

    /// Records a webhook request that failed authentication: metrics, audit, and the alert rule.
    pub fn webhook_rejected(&self, platform: Platform, reason: &str) {
        let _ = self.tx.send(Notice::Rejected(platform, reason.to_string()));
        self.observe(Signal::WebhookRejected(platform));
    }

    /// The admins' direct chats.
    pub fn admin_chats(&self) -> Vec<(ChatRef, UserRef)> {
        self.settings
            .admin_chats
            .iter()
            .filter_map(|s| s.parse::<UserRef>().ok())
            .map(|u| (ChatRef::new(u.platform, u.id.clone(), ChatKind::Direct), u))
            .collect()
    }
}

/// What the alert task writes to the audit trail and sends to admins.
#[derive(Debug)]
pub enum Notice {
    /// An alert was raised.
    Alert(Alert),
    /// A webhook request on this platform was rejected, for this reason.
    Rejected(Platform, String),
}

/// Audits raised alerts and rejected requests, and sends alerts to the admin chats through `outboxes`, until
/// the channel closes.
pub async fn deliver(
    alerts: Arc<Alerts>,
    mut rx: mpsc::UnboundedReceiver<Notice>,
    outboxes: crate::outboxes::Outboxes,
) {
    let targets = alerts.admin_chats();
    let audit = alerts.audit.clone();
    drop(alerts);
    while let Some(notice) = rx.recv().await {
        let alert = match notice {
            Notice::Rejected(platform, reason) => {
                if let Some(audit) = &audit {
                    let details = [("platform", platform.as_str().to_string()), ("reason", reason)];
                    audit.note("webhook.rejected", None, Outcome::Denied, &details).await;
                }
                continue;
            }
            Notice::Alert(alert) => alert,
        };
        if let Some(audit) = &audit {
            audit.note("alert.raised", None, Outcome::Info, &[("kind", alert.kind.to_string())]).await;
        }
        let replies = targets
            .iter()
            .map(|(chat, user)| Reply {
                chat: chat.clone(),
                user: user.clone(),
                private: true,
                body: ReplyBody::Text { text: alert.text.clone(), buttons: Vec::new() },
            })
            .collect();
        outboxes.deliver(replies).await;
    }
}

impl palisade_core::services::Observer for Alerts {
    fn rejected(&self, platform: Platform, reason: &str) {
        tracing::warn!(%platform, reason, "rejected an unauthenticated request");
        self.webhook_rejected(platform, reason);
    }
}

/// Layer counting every handled message toward the `messages_per_user` rule (a bot adds it with
/// `DispatcherBuilder::layer`).
#[derive(Clone, Debug)]
pub struct CountLayer {
    alerts: Arc<Alerts>,
}

impl CountLayer {
    /// Counts into `alerts`.
    pub fn new(alerts: Arc<Alerts>) -> Self {
        Self { alerts }
    }
}

impl<S> tower::Layer<S> for CountLayer {
    type Service = Count<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Count { inner, alerts: self.alerts.clone() }
    }
}

/// Counts each request's user, then hands it on.
#[derive(Clone, Debug)]
pub struct Count<S> {
    inner: S,
    alerts: Arc<Alerts>,
}

impl<S> tower::Service<crate::dispatch::Request> for Count<S>
where
    S: tower::Service<crate::dispatch::Request>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: crate::dispatch::Request) -> Self::Future {
        self.alerts.observe(Signal::Message(req.event.user.clone()));
        self.inner.call(req)
    }
}
