//! Taking over the work of a replica that went silent: killed, or stopped and not started again. Every
//! [`BEAT_EVERY`] a replica on a shared store looks for names silent for [`crate::replicas::STALE_AFTER`];
//! the one that takes such a name over ([`Membership::take_over_silent`]) runs the events left in that
//! replica's journal and delivers the replies it left, each clearing its entry there, renewing the name
//! meanwhile; once the journal is empty it gives the name back.
//!
//! Each event the dead replica accepted is handled once more at most: one it handled but whose replies it had
//! not delivered is delivered, not handled again; one it was handling when it died runs again (as after a
//! crash of a single process). Events taken up join the end of their conversations' lines: across the crash
//! they run after what those conversations sent to other replicas meanwhile.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Outboxes;
use super::intake::Accepted;
use crate::adapter::Envelope;
use crate::clock::SharedClock;
use crate::journal::Journal;
use crate::replicas::{BEAT_EVERY, Membership};
use crate::store::SharedStore;

/// Looks for silent replicas until `stop`, taking over each one found.
pub(super) async fn run(
    store: SharedStore,
    clock: SharedClock,
    own: String,
    journal: Arc<Journal>,
    outboxes: Outboxes,
    accepted: mpsc::Sender<Accepted>,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(BEAT_EVERY) => {}
        }
        match Membership::take_over_silent(&store, &clock, &own).await {
            Ok(taken) => {
                for name in taken {
                    let (journal, outboxes, accepted, stop) =
                        (journal.clone(), outboxes.clone(), accepted.clone(), stop.clone());
                    tokio::spawn(take_up(name, journal, outboxes, accepted, stop));
                }
            }
            Err(error) => tracing::warn!(%error, "could not look for replicas that went silent; retrying"),
        }
    }
}

/// Runs what the journal of the replica named by `name` holds, then gives the name back.
async fn take_up(
    name: Membership,
    journal: Arc<Journal>,
    outboxes: Outboxes,
    accepted: mpsc::Sender<Accepted>,
    stop: CancellationToken,
) {
    let replica = name.name().to_string();
    let entries = match journal.adopt(&replica).await {
        Ok(entries) => entries,
        Err(error) => {
            tracing::error!(%error, %replica, "could not read a silent replica's journal; another look later");
            return;
        }
    };
    if !entries.is_empty() {
        crate::metrics::recovered(entries.len() as u64);
        tracing::warn!(%replica, entries = entries.len(), "took over the unfinished work of a replica that went silent");
    }
    for (entry, ticket) in entries {
        match entry.replies {
            Some(replies) => outboxes.send(entry.event.conversation(), replies, None, Some(ticket)).await,
            None => {
                let envelope = Envelope::new(entry.event).resumed();
                // At the end of its conversation's line (see `crate::turns`).
                let handed = Accepted { envelope, ticket: Some(ticket), at: tokio::time::Instant::now(), place: None };
                if accepted.send(handed).await.is_err() {
                    return;
                }
            }
        }
    }
    // Held while the taken-up work runs, so nobody else takes it up as well.
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(BEAT_EVERY) => {}
        }
        match name.renew().await {
            Ok(true) => {}
            Ok(false) => return,
            Err(error) => tracing::warn!(%error, %replica, "could not renew a name taken over; retrying"),
        }
        match journal.adopt(&replica).await {
            Ok(left) if left.is_empty() => break,
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, %replica, "could not read a silent replica's journal; retrying"),
        }
    }
    tracing::info!(%replica, "finished the work of a replica that went silent");
    name.give_back().await;
}
