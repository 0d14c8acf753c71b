//! The bounded intake through which adapters hand events to the dispatcher.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::event::{Event, Platform};
use crate::services::Observer;

/// An event on its way to the dispatcher, with an optional signal for when it has been fully handled.
#[derive(Debug)]
pub struct Envelope {
    /// The event.
    pub event: Event,
    /// Fired after the event was handled and its replies delivered (or dropped on shutdown).
    pub done: Option<oneshot::Sender<()>>,
}

/// Why the sink did not take an event.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// The dispatcher is shutting down; the adapter should stop too.
    #[error("the dispatcher is shutting down and takes no more events")]
    Closed,
    /// The intake is full right now (only from [`EventSink::try_submit`]); a webhook should answer 503 so the
    /// platform retries later.
    #[error("the dispatcher is saturated; try again later")]
    Full,
}

/// A cloneable handle adapters use to submit events. The queue behind it is bounded: when the dispatcher is
/// saturated, [`EventSink::submit`] waits, which slows a polling adapter down instead of growing memory.
#[derive(Clone)]
pub struct EventSink {
    tx: mpsc::Sender<Envelope>,
    observer: Option<Arc<dyn Observer>>,
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
        Self { tx, observer }
    }

    /// Reports a request that failed authentication (bad signature, wrong secret, stale or replayed): it is
    /// counted, audited and may raise an alert. `reason` must not contain the request's content.
    pub fn rejected(&self, platform: Platform, reason: &str) {
        match &self.observer {
            Some(observer) => observer.rejected(platform, reason),
            None => tracing::warn!(%platform, reason, "rejected an unauthenticated request"),
        }
    }

    /// Submits an event, waiting while the intake is full.
    pub async fn submit(&self, event: Event) -> Result<(), SinkError> {
        self.tx.send(Envelope { event, done: None }).await.map_err(|_| SinkError::Closed)
    }

    /// Submits an event without waiting; fails with [`SinkError::Full`] when saturated.
    pub fn try_submit(&self, event: Event) -> Result<(), SinkError> {
        self.tx.try_send(Envelope { event, done: None }).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => SinkError::Full,
            mpsc::error::TrySendError::Closed(_) => SinkError::Closed,
        })
    }

    /// Submits an envelope as is, without waiting (for runtimes handing work back in, with its done signal).
    pub fn try_submit_envelope(&self, envelope: Envelope) -> Result<(), Box<(SinkError, Envelope)>> {
        self.tx.try_send(envelope).map_err(|e| {
            Box::new(match e {
                mpsc::error::TrySendError::Full(e) => (SinkError::Full, e),
                mpsc::error::TrySendError::Closed(e) => (SinkError::Closed, e),
            })
        })
    }

    /// Submits an envelope as is, waiting while the intake is full.
    pub async fn submit_envelope(&self, envelope: Envelope) -> Result<(), SinkError> {
        self.tx.send(envelope).await.map_err(|_| SinkError::Closed)
    }

    /// Submits an event and waits until it was handled and its replies were delivered.
    pub async fn submit_and_wait(&self, event: Event) -> Result<(), SinkError> {
        let (done, handled) = oneshot::channel();
        self.tx.send(Envelope { event, done: Some(done) }).await.map_err(|_| SinkError::Closed)?;
        handled.await.map_err(|_| SinkError::Closed)
    }
}
