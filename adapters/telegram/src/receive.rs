//! Handing mapped updates to the dispatcher, and answering button presses so the client stops spinning.
//! Shared by polling (which waits while the dispatcher is full) and the webhook (which waits briefly).
//! A submission returns once the dispatcher recorded the update (and checked its `update_id` against the
//! ones it saw, even before a restart); only then is Telegram told it arrived.

use std::sync::Arc;

use std::time::Duration;

use palisade_core::{Envelope, Event, EventSink, SinkError};
use teloxide::payloads::AnswerCallbackQuerySetters;
use teloxide::prelude::Requester;
use teloxide::requests::Request;
use teloxide::types::{CallbackQueryId, Update};

use crate::api::Api;
use crate::inbound::{Inbound, map_update};

/// Shown when a button the bot no longer remembers is pressed.
pub const EXPIRED: &str = "This button has expired; run the command again.";

/// An update handed in, its acceptance to wait for.
#[derive(Debug)]
pub struct Queued {
    receiver: Option<Receiver>,
    query: Option<CallbackQueryId>,
    known: bool,
    pending: Vec<palisade_core::Pending>,
}

impl Queued {
    /// Waits until the dispatcher accepted the update's event, then answers its button press, if any.
    pub async fn accepted(self) -> Result<(), SinkError> {
        for pending in self.pending {
            pending.accepted().await?;
        }
        if let (Some(receiver), Some(query)) = (self.receiver, self.query) {
            receiver.answer(query, self.known);
        }
        Ok(())
    }
}

/// Maps updates and submits their events.
#[derive(Debug, Clone)]
pub struct Receiver {
    api: Arc<Api>,
    sink: EventSink,
}

impl Receiver {
    /// A receiver submitting to `sink`.
    pub fn new(api: Arc<Api>, sink: EventSink) -> Self {
        Self { api, sink }
    }

    /// Where events (and the connection state) go.
    pub fn sink(&self) -> &EventSink {
        &self.sink
    }

    /// Looks a pressed button sent by another replica up among the replicas, before the press is mapped.
    async fn prefetch(&self, update: &Update) {
        if let teloxide::types::UpdateKind::CallbackQuery(q) = &update.kind
            && let Some(data) = &q.data
        {
            self.api.buttons().prefetch(data).await;
        }
    }

    /// The update's button press to answer, if any, and its events, each with its delivery id: the update's
    /// id, and for the second and later events of one update (members added together) `…/<n>`
    /// ([`Envelope::delivery_part`]).
    fn map(&self, update: Update) -> Option<(Option<CallbackQueryId>, Vec<Envelope>)> {
        let id = update.id.0;
        let envelope = |e: Event| Envelope::new(e).delivery(format!("telegram:update:{id}"));
        match map_update(update, self.api.username(), self.api.buttons()) {
            Inbound::Event(e) => Some((None, vec![envelope(e)])),
            Inbound::Events(events) => {
                let delivery = format!("telegram:update:{id}");
                let parts = events.into_iter().enumerate();
                Some((None, parts.map(|(n, e)| Envelope::new(e).delivery_part(&delivery, n)).collect()))
            }
            Inbound::Callback { query, event } => Some((Some(query), event.map(envelope).into_iter().collect())),
            Inbound::Ignored(reason) => {
                tracing::debug!(update_id = id, reason, "Telegram update ignored");
                None
            }
        }
    }

    /// Submits the update's events and waits until the dispatcher accepted them (at most `within`, when given:
    /// then [`SinkError::Full`] means "ask Telegram to retry").
    pub async fn take(&self, update: Update, within: Option<Duration>) -> Result<(), SinkError> {
        self.prefetch(&update).await;
        let Some((query, envelopes)) = self.map(update) else { return Ok(()) };
        let known = !envelopes.is_empty();
        for envelope in envelopes {
            match within {
                Some(within) => self.sink.submit_within(envelope, within).await?,
                None => self.sink.submit_envelope(envelope).await?,
            }
        }
        if let Some(query) = query {
            self.answer(query, known);
        }
        Ok(())
    }

    /// Hands the update's events in without waiting for the dispatcher's answer (see [`Queued::accepted`]), so
    /// a batch of updates is accepted together.
    ///
    /// The updates of one `getUpdates` stream come in increasing order: each event is numbered in the
    /// bot's polling stream ([`Envelope::in_order`]: the update id, then its place among the update's events).
    pub async fn enqueue(&self, update: Update) -> Result<Queued, SinkError> {
        self.prefetch(&update).await;
        let id = u64::from(update.id.0);
        let Some((query, envelopes)) = self.map(update) else {
            return Ok(Queued { receiver: None, query: None, known: false, pending: Vec::new() });
        };
        let known = !envelopes.is_empty();
        let stream = self.api.bot_id().map(|bot| format!("telegram:{bot}:polling"));
        let mut pending = Vec::with_capacity(envelopes.len());
        for (n, envelope) in envelopes.into_iter().enumerate() {
            let envelope = match &stream {
                Some(stream) if n < 1 << 16 => envelope.in_order(stream.as_str(), (id << 16) | n as u64),
                _ => envelope,
            };
            pending.push(self.sink.enqueue(envelope).await?);
        }
        Ok(Queued { receiver: Some(self.clone()), query, known, pending })
    }

    /// Answers a callback query in the background (with a notice when the button was not recognised).
    fn answer(&self, query: CallbackQueryId, known: bool) {
        let api = self.api.clone();
        tokio::spawn(async move {
            let bot = api.bot();
            let answered = api
                .call("answerCallbackQuery", || {
                    let req = bot.answer_callback_query(query.clone());
                    if known { req.send() } else { req.text(EXPIRED).send() }
                })
                .await;
            if let Err(e) = answered {
                tracing::warn!(error = %api.describe(&e), "could not answer a button press");
            }
        });
    }
}
