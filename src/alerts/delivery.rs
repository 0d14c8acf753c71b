//! The alert task: audits raised alerts and sends them to the admins' private chats, and once a minute
//! writes what was rejected (one log line and one audit entry per platform and reason).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::{Alert, Alerts};
use crate::audit::{Audit, Outcome};
use crate::outboxes::Outboxes;
use crate::reply::{Reply, ReplyBody};

/// How often rejections are summarised.
const SUMMARY_EVERY: Duration = Duration::from_secs(60);

/// What the alert task is told.
#[derive(Debug)]
pub enum Notice {
    /// An alert was raised.
    Alert(Alert),
}

/// Runs until the channel closes (every handle on the alerts is gone), then writes the last summary.
pub async fn deliver(alerts: Arc<Alerts>, mut rx: mpsc::UnboundedReceiver<Notice>, outboxes: Outboxes) {
    let targets = alerts.admin_chats();
    let audit = alerts.audit.clone();
    let counts = Arc::downgrade(&alerts);
    drop(alerts);
    let mut tick = tokio::time::interval(SUMMARY_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let notice = tokio::select! {
            notice = rx.recv() => notice,
            _ = tick.tick() => {
                summarise(counts.upgrade().as_deref(), audit.as_deref()).await;
                continue;
            }
        };
        let Some(Notice::Alert(alert)) = notice else { break };
        let text = describe(&alert, audit.as_deref()).await;
        if let Some(audit) = &audit {
            audit.note("alert.raised", None, Outcome::Info, &[("kind", alert.kind.to_string())]).await;
        }
        let replies = targets
            .iter()
            .map(|(chat, user)| Reply {
                chat: chat.clone(),
                user: user.clone(),
                private: true,
                body: ReplyBody::Text { text: text.clone(), buttons: Vec::new() },
                retract: None,
            })
            .collect();
        outboxes.deliver(replies).await;
    }
    summarise(counts.upgrade().as_deref(), audit.as_deref()).await;
}

/// What the admins read: counts and an audit pseudonym, never an id.
async fn describe(alert: &Alert, audit: Option<&Audit>) -> String {
    let who = match (&alert.user, audit) {
        (Some(user), Some(audit)) => match audit.pseudonym(user).await {
            Ok(p) => format!(" by user {p}"),
            Err(_) => " by one user".to_string(),
        },
        _ => String::new(),
    };
    format!("Security alert: {} × {}{who} within {} min.", alert.count, alert.kind, alert.minutes)
}

/// One log line and one audit entry per (platform, reason) rejected since the last summary.
async fn summarise(alerts: Option<&Alerts>, audit: Option<&Audit>) {
    let Some(alerts) = alerts else { return };
    for ((platform, reason), count) in alerts.take_rejections() {
        tracing::warn!(%platform, reason, count, "rejected unauthenticated requests in the last minute");
        if let Some(audit) = audit {
            let details =
                [("platform", platform.as_str().to_string()), ("reason", reason), ("count", count.to_string())];
            audit.note("webhook.rejected", None, Outcome::Denied, &details).await;
        }
    }
}
