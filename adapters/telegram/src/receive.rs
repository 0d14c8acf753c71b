//! Handing mapped updates to the dispatcher, and answering button presses so the client stops spinning.
//! Shared by polling (which waits while the dispatcher is full) and the webhook (which must not).

use std::sync::Arc;

use palisade_core::{Event, EventSink, SinkError};
use teloxide::payloads::AnswerCallbackQuerySetters;
use teloxide::prelude::Requester;
use teloxide::requests::Request;
use teloxide::types::{CallbackQueryId, Update};

use crate::api::Api;
use crate::inbound::{Inbound, map_update};

/// Shown when a button the bot no longer remembers is pressed.
pub const EXPIRED: &str = "This button has expired; run the command again.";

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

    fn map(&self, update: Update) -> Option<(Option<CallbackQueryId>, Option<Event>)> {
        let id = update.id.0;
        match map_update(update, self.api.username(), self.api.buttons()) {
            Inbound::Event(e) => Some((None, Some(e))),
            Inbound::Callback { query, event } => Some((Some(query), event)),
            Inbound::Ignored(reason) => {
                tracing::debug!(update_id = id, reason, "Telegram update ignored");
                None
            }
        }
    }

    /// Submits the update's event, waiting while the dispatcher is full. False when the dispatcher has closed.
    pub async fn take(&self, update: Update) -> bool {
        let Some((query, event)) = self.map(update) else { return true };
        let known = event.is_some();
        if let Some(event) = event
            && self.sink.submit(event).await.is_err()
        {
            return false;
        }
        if let Some(query) = query {
            self.answer(query, known);
        }
        true
    }

    /// Submits the update's event without waiting; [`SinkError::Full`] means "ask Telegram to retry".
    pub fn try_take(&self, update: Update) -> Result<(), SinkError> {
        let Some((query, event)) = self.map(update) else { return Ok(()) };
        let known = event.is_some();
        if let Some(event) = event {
            self.sink.try_submit(event)?;
        }
        if let Some(query) = query {
            self.answer(query, known);
        }
        Ok(())
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
