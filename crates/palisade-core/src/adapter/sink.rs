//! The bounded intake through which adapters hand events to the dispatcher.
//!
//! A submission returns once the runtime has *accepted* the event: journaled (sealed, on disk) when the
//! runtime journals, and checked against the deliveries it has seen before. Only then may an adapter
//! acknowledge the event to its platform (a 200 to a webhook, a confirmed polling offset, a Socket Mode ack):
//! an acknowledged event is never lost, and a delivery the platform repeats (or an attacker replays, even
//! after a restart) runs once.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::event::{Event, Platform};
use crate::services::{Connection, Observer};

/// An event on its way to the dispatcher.
#[derive(Debug)]
#[non_exhaustive]
pub struct Envelope {
    /// The event.
    pub event: Event,
    /// Fired after the event was handled and its replies delivered (or dropped on shutdown).
    pub done: Option<oneshot::Sender<()>>,
    /// The platform's id for this delivery (`telegram:update:…`, `slack:event:…`): a delivery already seen is
    /// accepted and dropped.
    pub delivery: Option<String>,
    /// Answered once the runtime accepted (or refused) the event.
    pub accepted: Option<oneshot::Sender<Result<Admission, SinkError>>>,
    /// The runtime handing work back in (a verified action): not counted against rate limits again.
    pub resumed: bool,
    /// The delivery's place in a numbered stream ([`Envelope::in_order`]).
    pub numbered: Option<Numbered>,
}

/// A delivery's place in a stream whose deliveries arrive numbered in increasing order, each number once
/// unless the stream repeats its last ones after a restart (Telegram's `getUpdates`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Numbered {
    /// The stream (one per bot account and way of receiving: `telegram:<bot id>:polling`).
    pub stream: String,
    /// The delivery's number in it.
    pub number: u64,
}

impl Envelope {
    /// An envelope for `event`.
    pub fn new(event: Event) -> Self {
        Self { event, done: None, delivery: None, accepted: None, resumed: false, numbered: None }
    }

    /// With the platform's id for this delivery.
    #[must_use]
    pub fn delivery(mut self, id: impl Into<String>) -> Self {
        self.delivery = Some(id.into());
        self
    }

    /// As event `n` (from 0) of the delivery `id`: one delivery can bring several events (people added
    /// together, files shared together), each remembered under an id of its own — `id` for the first,
    /// `id/n` for the others.
    #[must_use]
    pub fn delivery_part(self, id: &str, n: usize) -> Self {
        match n {
            0 => self.delivery(id),
            n => self.delivery(format!("{id}/{n}")),
        }
    }

    /// As delivery `number` of `stream`, whose deliveries arrive in increasing order: a runtime of one process
    /// then remembers only the highest number it accepted, instead of every delivery id (a number at or
    /// below it is a repeat). Set [`Envelope::delivery`] as well: replicas sharing a store check that.
    #[must_use]
    pub fn in_order(mut self, stream: impl Into<String>, number: u64) -> Self {
        self.numbered = Some(Numbered { stream: stream.into(), number });
        self
    }

    /// With a signal fired once the event was handled and its replies delivered.
    #[must_use]
    pub fn done(mut self, done: oneshot::Sender<()>) -> Self {
        self.done = Some(done);
        self
    }

    /// Marked as work the runtime hands back in.
    #[must_use]
    pub fn resumed(mut self) -> Self {
        self.resumed = true;
        self
    }
}

/// What the runtime did with an event it took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Admission {
    /// Recorded, and queued for handling.
    Accepted,
    /// A delivery seen before (a platform's retry, a duplicated dispatch, a replay): dropped, nothing runs.
    /// Acknowledge it to the platform as usual, but answer nothing.
    Repeat,
    /// Over its rate limits: dropped (the user was told once). Acknowledge it so the platform does not retry.
    Limited,
}

/// Why the sink did not take an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// The dispatcher is shutting down; the adapter should stop too.
    #[error("the dispatcher is shutting down and takes no more events")]
    Closed,
    /// The intake is full, or could not accept the event in time; a webhook should answer 503 so the platform
    /// retries later.
    #[error("the dispatcher is saturated; try again later")]
    Full,
    /// The event could not be recorded (the store failed); the platform should retry later.
    #[error("the event could not be recorded: {0}")]
    Journal(String),
}

/// An enqueued event's answer to come ([`EventSink::enqueue`]).
#[derive(Debug)]
pub struct Pending(oneshot::Receiver<Result<Admission, SinkError>>);

impl Pending {
    /// Waits until the runtime took the event (or refused it).
    pub async fn accepted(self) -> Result<Admission, SinkError> {
        // A runtime that drops the answer without replying took the event as it is.
        self.0.await.unwrap_or(Ok(Admission::Accepted))
    }
}

/// A cloneable handle adapters use to submit events. The queue behind it is bounded: when the dispatcher is
/// saturated, a submission waits, which slows a polling adapter down instead of growing memory.
#[derive(Clone)]
pub struct EventSink {
    tx: mpsc::Sender<Envelope>,
    observer: Option<Arc<dyn Observer>>,
    leadership: Option<Arc<dyn super::Leadership>>,
    ids: Option<Arc<dyn super::IdBook>>,
}

impl std::fmt::Debug for EventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventSink").finish_non_exhaustive()
    }
}

impl EventSink {
    /// A sink feeding `tx`, reporting rejected requests to `observer`. Runtimes create sinks; adapters are
    /// handed one.
    pub fn new(tx: mpsc::Sender<Envelope>, observer: Option<Arc<dyn Observer>>) -> Self {
        Self { tx, observer, leadership: None, ids: None }
    }

    /// The same sink, handing out the lead of roles through `leadership` (replicas sharing a store).
    #[must_use]
    pub fn with_leadership(mut self, leadership: Arc<dyn super::Leadership>) -> Self {
        self.leadership = Some(leadership);
        self
    }

    /// The same sink, sharing adapters' opaque ids through `ids` (replicas sharing a store).
    #[must_use]
    pub fn with_id_book(mut self, ids: Arc<dyn super::IdBook>) -> Self {
        self.ids = Some(ids);
        self
    }

    /// Where opaque ids (buttons) are shared with the other replicas, when there are any.
    pub fn id_book(&self) -> Option<Arc<dyn super::IdBook>> {
        self.ids.clone()
    }

    /// Whether other replicas of the bot may lead roles ([`EventSink::lead`] may wait).
    pub fn has_replicas(&self) -> bool {
        self.leadership.is_some()
    }

    /// Waits until this process leads `role` among the bot's replicas (at once when it runs alone);
    /// `None` once `stop` is cancelled. For work only one replica may do, such as polling Telegram.
    pub async fn lead(&self, role: &str, stop: &CancellationToken) -> Option<super::Lead> {
        if stop.is_cancelled() {
            return None;
        }
        match &self.leadership {
            Some(leadership) => leadership.lead(role, stop).await,
            None => Some(super::Lead::alone()),
        }
    }

    /// Takes the lead of `role` if nobody holds it now (at once when this process runs alone).
    pub async fn try_lead(&self, role: &str) -> Option<super::Lead> {
        match &self.leadership {
            Some(leadership) => leadership.try_lead(role).await,
            None => Some(super::Lead::alone()),
        }
    }

    /// How many replicas of the bot are running now, this one included (1 when it runs alone).
    pub async fn replicas(&self) -> usize {
        match &self.leadership {
            Some(leadership) => leadership.replicas().await.max(1),
            None => 1,
        }
    }

    /// Reports a request that failed authentication (bad signature, wrong secret, stale or replayed): it is
    /// counted, audited and may raise an alert. `reason` must not contain the request's content.
    pub fn rejected(&self, platform: Platform, reason: &str) {
        match &self.observer {
            Some(observer) => observer.rejected(platform, reason),
            None => tracing::warn!(%platform, reason, "rejected an unauthenticated request"),
        }
    }

    /// Reports the adapter's connection state (shown by `palisade status`, exported as metrics).
    pub fn connection(&self, platform: Platform, state: Connection) {
        match &self.observer {
            Some(observer) => observer.connection(platform, state),
            None => tracing::debug!(%platform, state = state.label(), "adapter connection"),
        }
    }

    /// Submits an event and waits until the runtime accepted it (see the module docs); acknowledge the
    /// event to the platform only after `Ok`.
    pub async fn submit(&self, event: Event) -> Result<(), SinkError> {
        self.submit_envelope(Envelope::new(event)).await
    }

    /// Like [`EventSink::submit`], for a delivery the platform identifies with `delivery` (an update id, an
    /// event id): a delivery seen before is accepted and dropped.
    pub async fn submit_delivery(&self, event: Event, delivery: impl Into<String>) -> Result<(), SinkError> {
        self.submit_envelope(Envelope::new(event).delivery(delivery)).await
    }

    /// Like [`EventSink::submit_delivery`], but gives up with [`SinkError::Full`] after `within` (for a
    /// webhook that must answer its platform in time).
    pub async fn submit_within(&self, envelope: Envelope, within: Duration) -> Result<(), SinkError> {
        match tokio::time::timeout(within, self.submit_envelope(envelope)).await {
            Ok(result) => result,
            Err(_) => Err(SinkError::Full),
        }
    }

    /// Submits an envelope and waits until the runtime accepted it.
    pub async fn submit_envelope(&self, envelope: Envelope) -> Result<(), SinkError> {
        self.admit(envelope).await.map(drop)
    }

    /// Submits an envelope and waits until the runtime took it; says whether it will run
    /// ([`Admission::Accepted`]) or was dropped as a repeat or over its limits.
    pub async fn admit(&self, envelope: Envelope) -> Result<Admission, SinkError> {
        self.enqueue(envelope).await?.accepted().await
    }

    /// Hands an envelope in (waiting only for room in the queue) and returns the runtime's answer to wait
    /// for. An adapter with a batch of deliveries enqueues them all in order, then waits for the answers:
    /// the runtime accepts the whole batch with one flush instead of one each.
    pub async fn enqueue(&self, mut envelope: Envelope) -> Result<Pending, SinkError> {
        let (accepted, answer) = oneshot::channel();
        envelope.accepted = Some(accepted);
        self.tx.send(envelope).await.map_err(|_| SinkError::Closed)?;
        Ok(Pending(answer))
    }

    /// Hands an envelope in without waiting for room or acceptance (for runtimes handing work back in);
    /// gives the envelope back when the intake is full or closed.
    pub fn try_submit_envelope(&self, envelope: Envelope) -> Result<(), Box<(SinkError, Envelope)>> {
        self.tx.try_send(envelope).map_err(|e| {
            Box::new(match e {
                mpsc::error::TrySendError::Full(e) => (SinkError::Full, e),
                mpsc::error::TrySendError::Closed(e) => (SinkError::Closed, e),
            })
        })
    }

    /// Submits an event and waits until it was handled and its replies were delivered.
    pub async fn submit_and_wait(&self, event: Event) -> Result<(), SinkError> {
        self.submit_and_wait_envelope(Envelope::new(event)).await.map(drop)
    }

    /// Submits an envelope and waits until its event was handled and its replies were delivered (or, for a
    /// delivery seen before or one over its rate limits, dropped: the admission says which).
    pub async fn submit_and_wait_envelope(&self, envelope: Envelope) -> Result<Admission, SinkError> {
        let (done, handled) = oneshot::channel();
        let admission = self.admit(envelope.done(done)).await?;
        handled.await.map_err(|_| SinkError::Closed)?;
        Ok(admission)
    }
}
