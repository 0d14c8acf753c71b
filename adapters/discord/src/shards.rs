//! Shards spread over replicas. Discord splits a bot's guilds over `shards` gateway connections, and each
//! shard must be connected once: with replicas, shard `i` is a role (`discord.shard.<i>.of.<n>`) led by one
//! replica at a time ([`palisade_core::EventSink::lead`]). A replica takes free shards up to its fair share
//! (the shards divided by the replicas running, rounded up) and gives one back when more replicas run than
//! when it took it, so the shards spread evenly; the shards of a replica that dies are taken over by the
//! others once its leases lapse.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use palisade_core::{AdapterError, Connection, Platform};
use tokio_util::sync::CancellationToken;

use crate::gateway::{Shards, connect};
use crate::intake::Intake;
use crate::rest::Rest;
use crate::settings::DiscordSettings;

/// How often a replica looks for a free shard, and whether it holds more than its share.
const LOOK_EVERY: Duration = Duration::from_secs(1);

/// The fair share of `total` shards among `replicas`.
fn share(total: u32, replicas: usize) -> usize {
    (total as usize).div_ceil(replicas.max(1))
}

/// The shards this replica runs, and its fair share of them now.
struct Counts {
    held: AtomicUsize,
    fair: AtomicUsize,
}

/// Runs the shards this replica leads, until `shutdown`.
pub async fn spread(
    settings: &DiscordSettings,
    rest: Arc<Rest>,
    intake: Intake,
    total: u32,
    shutdown: CancellationToken,
) -> Result<(), AdapterError> {
    intake.sink.connection(Platform::DISCORD, Connection::Standby);
    // Its own token: a shard that fails for good stops the others, not whatever else shares the caller's.
    let shutdown = shutdown.child_token();
    let counts = Arc::new(Counts { held: AtomicUsize::new(0), fair: AtomicUsize::new(0) });
    counts.fair.store(share(total, intake.sink.replicas().await), Ordering::SeqCst);
    // The replicas are counted once a second for all the shards (a scan of their heartbeats).
    tokio::spawn({
        let (counts, sink, shutdown) = (counts.clone(), intake.sink.clone(), shutdown.clone());
        async move {
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(LOOK_EVERY) => {}
                }
                counts.fair.store(share(total, sink.replicas().await), Ordering::SeqCst);
            }
        }
    });
    let mut shards = tokio::task::JoinSet::new();
    for id in 0..total {
        let (settings, rest, intake, counts, shutdown) =
            (settings.clone(), rest.clone(), intake.clone(), counts.clone(), shutdown.clone());
        shards.spawn(async move { shard(id, total, &settings, rest, intake, counts, shutdown).await });
    }
    while let Some(ended) = shards.join_next().await {
        // A shard that cannot connect at all (a rejected token) ends the adapter, as alone.
        if let Ok(Err(error)) = ended {
            shutdown.cancel();
            return Err(error);
        }
    }
    Ok(())
}

/// Leads and runs shard `id` whenever it is free and within this replica's share.
async fn shard(
    id: u32,
    total: u32,
    settings: &DiscordSettings,
    rest: Arc<Rest>,
    intake: Intake,
    counts: Arc<Counts>,
    shutdown: CancellationToken,
) -> Result<(), AdapterError> {
    let role = format!("discord.shard.{id}.of.{total}");
    loop {
        if counts.held.load(Ordering::SeqCst) < counts.fair.load(Ordering::SeqCst)
            && let Some(lead) = intake.sink.try_lead(&role).await
        {
            counts.held.fetch_add(1, Ordering::SeqCst);
            tracing::info!(shard = id, of = total, "this replica runs a Discord shard");
            let stop = CancellationToken::new();
            let watching = tokio::spawn(watch(counts.clone(), lead, shutdown.clone(), stop.clone()));
            let ended = connect(settings, rest.clone(), intake.clone(), Shards::One { id, total }, stop.clone()).await;
            stop.cancel();
            // The watcher counted the shard off if it gave it back to rebalance.
            if !watching.await.unwrap_or(false) {
                counts.held.fetch_sub(1, Ordering::SeqCst);
            }
            if shutdown.is_cancelled() {
                return Ok(());
            }
            ended?;
        }
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(LOOK_EVERY) => {}
        }
    }
}

/// Ends a shard's run (`stop`) at shutdown, when its lead was lost, or when this replica holds more than its
/// share; returns whether it counted the shard off itself (to rebalance). The lead is handed back when this
/// returns.
async fn watch(
    counts: Arc<Counts>,
    lead: palisade_core::Lead,
    shutdown: CancellationToken,
    stop: CancellationToken,
) -> bool {
    let gave_back = loop {
        tokio::select! {
            () = shutdown.cancelled() => break false,
            () = stop.cancelled() => break false,
            () = lead.lost().cancelled() => break false,
            () = tokio::time::sleep(LOOK_EVERY * 5) => {}
        }
        let fair = counts.fair.load(Ordering::SeqCst);
        // One shard at a time gives way: the count goes down only where it is still above the share.
        if counts.held.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |h| (h > fair).then(|| h - 1)).is_ok() {
            tracing::info!("more replicas run now; handing a Discord shard to one of them");
            break true;
        }
    };
    stop.cancel();
    drop(lead);
    gave_back
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_shared_evenly_rounding_up() {
        assert_eq!(share(1, 1), 1);
        assert_eq!(share(1, 3), 1);
        assert_eq!(share(4, 2), 2);
        assert_eq!(share(5, 2), 3);
        assert_eq!(share(3, 0), 3);
    }
}
