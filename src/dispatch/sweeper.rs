//! Tells users when a flow they left idle was cancelled, without waiting for them to write again, and
//! deletes retractable messages whose time is up.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Outboxes;
use crate::clock::SharedClock;
use crate::event::ConversationKey;
use crate::flow::FlowStore;
use crate::reply::{Reply, ReplyBody};

/// Periodically removes flows idle for longer than `idle` and notifies their users.
pub(crate) async fn sweep_flows(
    flows: FlowStore,
    texts: std::sync::Arc<palisade_core::texts::Texts>,
    outboxes: Outboxes,
    clock: SharedClock,
    idle: Duration,
    every: Duration,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        // Messages that must not stay in a chat past their time (second factors) go first.
        outboxes.retract_due().await;
        let expired = match flows.expired(clock.now_ms(), crate::clock::millis(idle)).await {
            Ok(expired) => expired,
            Err(error) => {
                tracing::warn!(%error, "flow sweep failed; will retry");
                continue;
            }
        };
        for state in expired {
            let conv = ConversationKey { user: state.user.clone(), chat_id: state.chat.conversation_id() };
            // The user may have answered since the scan; only remove what is still expired.
            let still_expired = flows
                .load(&conv)
                .await
                .ok()
                .flatten()
                .is_some_and(|s| s.is_expired(clock.now_ms(), crate::clock::millis(idle)));
            if !still_expired {
                continue;
            }
            if let Err(error) = flows.remove(&conv).await {
                tracing::warn!(%error, "could not remove an expired flow");
                continue;
            }
            // A stored flow does not record its user's language: the operator's default language is used.
            let text = texts.fill(None, "router.flow_timed_out", &[("flow", state.flow.name())]);
            let reply = Reply {
                chat: state.chat,
                user: state.user,
                private: false,
                body: ReplyBody::Text { text, buttons: Vec::new() },
                retract: None,
            };
            outboxes.deliver(vec![reply]).await;
        }
    }
}
