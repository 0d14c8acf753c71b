//! Long polling with `getUpdates`, one batch at a time and in order.
//!
//! Telegram forgets an update once a later `getUpdates` names an offset past it. The offset advances only
//! after an update was handed to the dispatcher (which finishes everything it accepted, even at shutdown),
//! and at shutdown one last short call confirms it, so a restart does not see handled updates again. After a
//! crash, at most the last unconfirmed batch comes again.

use std::sync::Arc;
use std::time::Duration;

use palisade_core::{AdapterError, Connection, EventSink, Platform};
use teloxide::payloads::{GetUpdates, GetUpdatesSetters};
use teloxide::prelude::Requester;
use teloxide::requests::{JsonRequest, Request};
use teloxide::types::{AllowedUpdate, Update};
use teloxide::{ApiError, RequestError};
use tokio_util::sync::CancellationToken;

use crate::api::Api;
use crate::quiet::{GetUpdatesQuietly, Updates};
use crate::receive::Receiver;

/// The updates the bot asks for.
pub const ALLOWED: [AllowedUpdate; 4] = [
    AllowedUpdate::Message,
    AllowedUpdate::CallbackQuery,
    AllowedUpdate::EditedMessage,
    AllowedUpdate::MessageReaction,
];

/// How long the final offset confirmation may take at shutdown.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(5);

/// The polling loop's state.
struct Poller {
    api: Arc<Api>,
    receiver: Receiver,
    /// The next update id wanted (last handled + 1).
    offset: Option<i32>,
    /// The offset Telegram last acknowledged (sent with a successful call).
    confirmed: Option<i32>,
    failures: u32,
    /// Whether the last poll succeeded (reported to `palisade status` on change).
    up: bool,
}

/// The role only one replica does: two processes polling one token take updates from each other.
pub const ROLE: &str = "telegram.polling";

/// Polls until `shutdown`, then confirms the offset. With other replicas of the bot, only the one leading
/// [`ROLE`] polls; the others stand by and one of them takes over when it stops or dies.
pub async fn run(
    api: Arc<Api>,
    sink: EventSink,
    shutdown: CancellationToken,
    timeout: Duration,
) -> Result<(), AdapterError> {
    loop {
        if sink.has_replicas() {
            sink.connection(Platform::TELEGRAM, Connection::Standby);
        }
        let Some(lead) = sink.lead(ROLE, &shutdown).await else { return Ok(()) };
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = lead.lost().cancelled() => continue,
            () = remove_webhook(&api) => {}
        }
        let receiver = Receiver::new(api.clone(), sink.clone());
        let mut poller = Poller { api: api.clone(), receiver, offset: None, confirmed: None, failures: 0, up: false };
        let result = poller.poll(&shutdown, lead.lost(), timeout).await;
        poller.confirm().await;
        if shutdown.is_cancelled() || result.is_err() {
            return result;
        }
        // The lead was lost (this process stalled): another replica polls now; stand by again.
        drop(lead);
    }
}

/// Polling and a webhook exclude each other; in polling mode any webhook left from earlier is removed.
async fn remove_webhook(api: &Api) {
    let bot = api.bot();
    if let Err(e) = api.call("deleteWebhook", || bot.delete_webhook().send()).await {
        tracing::warn!(error = %api.describe(&e), "could not remove a webhook; polling may be refused while one is set");
    }
}

impl Poller {
    /// Polls until `shutdown` or `lost` (the lead among replicas).
    async fn poll(
        &mut self,
        shutdown: &CancellationToken,
        lost: &CancellationToken,
        timeout: Duration,
    ) -> Result<(), AdapterError> {
        let secs = u32::try_from(timeout.as_secs()).unwrap_or(50);
        loop {
            let mut payload = GetUpdates::new().timeout(secs).allowed_updates(ALLOWED);
            if let Some(offset) = self.offset {
                payload = payload.offset(offset);
            }
            let request = JsonRequest::new(self.api.bot().clone(), GetUpdatesQuietly::new(payload));
            let answer = tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = lost.cancelled() => return Ok(()),
                answer = request.send() => answer,
            };
            match answer {
                Ok(Updates(updates)) => {
                    self.failures = 0;
                    if !self.up {
                        self.up = true;
                        self.receiver.sink().connection(Platform::TELEGRAM, Connection::Connected);
                    }
                    self.confirmed = self.offset;
                    if !self.take(updates, shutdown).await {
                        return Ok(());
                    }
                }
                Err(e) => self.failed(e, shutdown).await?,
            }
        }
    }

    /// Hands a batch to the dispatcher in order (all of it first, so it is accepted with one flush), then
    /// advances the offset past each update as it is accepted; false when the adapter should stop.
    async fn take(&mut self, updates: Vec<Update>, shutdown: &CancellationToken) -> bool {
        let mut queued = Vec::with_capacity(updates.len());
        for update in updates {
            let next = i32::try_from(update.id.0).ok().and_then(|id| id.checked_add(1));
            let handed = tokio::select! {
                () = shutdown.cancelled() => return false,
                handed = self.receiver.enqueue(update) => handed,
            };
            match handed {
                Ok(q) => queued.push((next, q)),
                Err(palisade_core::SinkError::Closed) => return false,
                // Not handed in: it and the rest of the batch are asked for again (after those before it).
                Err(_) => break,
            }
        }
        for (next, q) in queued {
            let taken = tokio::select! {
                () = shutdown.cancelled() => return false,
                taken = q.accepted() => taken,
            };
            match taken {
                Ok(()) => self.offset = next.or(self.offset),
                Err(palisade_core::SinkError::Closed) => return false,
                Err(error) => {
                    // Not confirmed: the next poll asks for this update again.
                    tracing::warn!(%error, "an update was not accepted; asking Telegram for it again");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    return true;
                }
            }
        }
        true
    }

    /// Waits before the next poll after `error`, or gives up when retrying cannot help.
    async fn failed(&mut self, error: RequestError, shutdown: &CancellationToken) -> Result<(), AdapterError> {
        let reason = self.api.describe(&error);
        self.up = false;
        self.receiver.sink().connection(Platform::TELEGRAM, Connection::Reconnecting(reason.clone()));
        let wait = match &error {
            RequestError::Api(ApiError::InvalidToken) => {
                return Err(AdapterError::Failed {
                    platform: Platform::TELEGRAM,
                    reason: "Telegram rejected the bot token; check [adapters.telegram] token (from @BotFather)".into(),
                });
            }
            RequestError::RetryAfter(s) => s.duration(),
            RequestError::Api(ApiError::TerminatedByOtherGetUpdates) => {
                tracing::warn!("another process is polling with this bot token; stop it, or only one will get updates");
                self.next_backoff()
            }
            _ => {
                tracing::warn!(error = %reason, "getUpdates failed; retrying");
                self.next_backoff()
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = tokio::time::sleep(wait) => {}
        }
        Ok(())
    }

    fn next_backoff(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        palisade_adapter_kit::Backoff::default().network(self.failures)
    }

    /// Tells Telegram which updates were handled, so they are not delivered again after a restart.
    async fn confirm(&self) {
        let Some(offset) = self.offset.filter(|o| Some(*o) != self.confirmed) else { return };
        let request = self.api.bot().get_updates().offset(offset).timeout(0).limit(1).allowed_updates(ALLOWED);
        match tokio::time::timeout(CONFIRM_TIMEOUT, request.send()).await {
            Ok(Ok(_)) => tracing::debug!(offset, "Telegram update offset confirmed"),
            Ok(Err(e)) => {
                tracing::warn!(error = %self.api.describe(&e), "could not confirm the update offset; the last updates may come again after a restart")
            }
            Err(_) => tracing::warn!(
                "confirming the update offset timed out; the last updates may come again after a restart"
            ),
        }
    }
}
