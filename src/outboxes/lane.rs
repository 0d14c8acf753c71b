//! One conversation's lane: its batches, in order, each reply paced to its platform's limits and sent.

use std::sync::PoisonError;

use tokio::time::Instant;

use super::pace::Target;
use super::{Batch, Outboxes};
use crate::event::{ChatKind, ConversationKey};
use crate::reply::{Reply, ReplyBody};

/// Delivers the lane's batches until it is empty (or the scheduler stops), then removes it.
pub(super) async fn run(outboxes: Outboxes, lane: ConversationKey) {
    loop {
        let batch = {
            let mut queues = outboxes.lanes.queues.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(queue) = queues.get_mut(&lane) else { return };
            match queue.front_mut() {
                // Taken out but left in place: the lane stays "busy", so a new batch does not start a second
                // task for it.
                Some(front) => Batch {
                    replies: std::mem::take(&mut front.replies),
                    done: front.done.take(),
                    ticket: front.ticket.take(),
                    since: front.since.take(),
                    _room: front._room.take(),
                    turn: front.turn.take(),
                },
                None => {
                    queues.remove(&lane);
                    if queues.is_empty() {
                        outboxes.lanes.idle.notify_waiters();
                    }
                    return;
                }
            }
        };
        let stopped = tokio::select! {
            () = deliver(&outboxes, batch.replies, batch.since) => false,
            () = outboxes.lanes.stop.cancelled() => true,
        };
        if stopped {
            // Shutting down after the grace period: what is left stays in the journal.
            return;
        }
        outboxes.finish(batch.done, batch.ticket).await;
        if let Some(turn) = batch.turn {
            turn.release().await;
        }
        let mut queues = outboxes.lanes.queues.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(queue) = queues.get_mut(&lane) {
            queue.pop_front();
        }
    }
}

/// Where a reply lands, as far as pacing is concerned: private replies from a group go to the user's DM on
/// platforms without ephemeral messages.
fn target(reply: &Reply, ephemeral: bool) -> Target {
    let to_dm = reply.private && reply.chat.kind != ChatKind::Direct && !ephemeral;
    if to_dm {
        Target { chat: format!("dm:{}", reply.user.id), group: false }
    } else {
        Target { chat: reply.chat.id.clone(), group: reply.chat.kind != ChatKind::Direct }
    }
}

/// Waits until `reply` may leave under its platform's send limits (a reservation is made).
pub(super) async fn wait_for_pace(dest: &super::Destination, reply: &Reply) {
    let (to, asked) = (target(reply, dest.caps.ephemeral_replies), Instant::now());
    loop {
        let wait = dest.pace.lock().unwrap_or_else(PoisonError::into_inner).reserve(&to, Instant::now());
        if wait.is_zero() {
            break;
        }
        tokio::time::sleep(wait).await;
    }
    if asked.elapsed() > std::time::Duration::ZERO {
        crate::metrics::send_paced(reply.chat.platform, asked.elapsed());
    }
}

async fn deliver(outboxes: &Outboxes, replies: Vec<Reply>, mut since: Option<Instant>) {
    for reply in replies {
        if let ReplyBody::Retract { tag } = &reply.body {
            outboxes.retract(&reply.user, tag).await;
            continue;
        }
        let platform = reply.chat.platform;
        let Some(dest) = outboxes.map.get(&platform).cloned() else {
            tracing::warn!(%platform, "no adapter running for this platform; reply dropped");
            continue;
        };
        let (user, chat, retract) = (reply.user.clone(), reply.chat.clone(), reply.retract.clone());
        let paced = !matches!(reply.body, ReplyBody::Delete(_));
        for mut part in reply.split(dest.caps.max_message_len) {
            if paced {
                wait_for_pace(&dest, &part).await;
            }
            let result = {
                let _slot = outboxes.lanes.in_flight.acquire().await;
                dest.outbox.deliver(&part).await
            };
            if retract.is_some() {
                // A second factor or a copy of someone's data: no plain copy stays behind in memory.
                part.wipe();
            }
            crate::metrics::reply_out(platform, result.is_ok());
            if result.is_ok()
                && let Some(arrived) = since.take()
            {
                crate::metrics::replied(platform, arrived.elapsed().as_secs_f64());
            }
            match (result, &retract, &outboxes.retractions) {
                (Err(error), _, _) => {
                    tracing::warn!(%platform, kind = part.kind_label(), %error, "delivery failed");
                }
                (Ok(Some(id)), Some(retract), Some(retractions)) => {
                    if let Err(error) = retractions.record(&user, &chat, id, retract).await {
                        tracing::error!(%error, "could not remember a message to delete later");
                    }
                }
                _ => {}
            }
        }
    }
}
