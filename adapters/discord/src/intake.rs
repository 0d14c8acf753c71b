//! Turning an authenticated interaction into its first answer: some are answered here (PING, expired or
//! foreign buttons, "enter code" buttons, autocomplete), the rest become events for the dispatcher, whose
//! first reply — if it comes within the acknowledgement window — is the answer.
//!
//! Mapping: a slash command is a command with its options as raw arguments (the built-in `/answer <text>`
//! is plain text, since an interactions-only bot never sees typed messages); a button is a button event
//! with the data the bot attached (looked up from the opaque id); a modal submission is text with
//! `private_input` set, which is how a verification code reaches the step-up gate without entering any
//! channel's history.

use std::sync::Arc;
use std::time::Duration;

use palisade_core::{ChatRef, CommandCall, Event, EventKind, EventSink, SinkError, UserRef};
use serenity::builder::{CreateAutocompleteResponse, CreateInteractionResponse, CreateInteractionResponseMessage};
use tokio::sync::Semaphore;

use crate::components::{Components, Target};
use crate::exchange::{Exchange, Exchanges, State};
use crate::interaction::{Action, Interaction};
use crate::outbox::DiscordOutbox;

/// The slash command whose text is taken as a plain answer (to a flow's question).
pub const ANSWER_COMMAND: &str = "answer";

/// How long the first answer is waited for before answering "deferred" (Discord allows 3 s in all).
pub const DEFAULT_ACK_WITHIN: Duration = Duration::from_millis(2_000);

/// Interactions handed to the dispatcher and not yet handled, at most; past that the user is told the bot
/// is busy (Discord does not redeliver interactions, so a 503 would only show "interaction failed").
pub const MAX_IN_FLIGHT: usize = 512;

/// Hands interactions to the dispatcher and finds their first answers.
#[derive(Debug, Clone)]
pub struct Intake {
    /// Where events go.
    pub sink: EventSink,
    /// Live interactions by conversation.
    pub exchanges: Arc<Exchanges>,
    /// Opaque component ids.
    pub components: Arc<Components>,
    /// The outbox (to tidy up deferred answers).
    pub outbox: Arc<DiscordOutbox>,
    /// How long to wait for the first reply.
    pub ack_within: Duration,
    /// Permits for interactions in the dispatcher (see [`MAX_IN_FLIGHT`]).
    pub in_flight: Arc<Semaphore>,
}

/// The first answer when no reply came: after the event was handled (`handled`), a silent acknowledgement
/// for a button and a short notice otherwise; before (the window ran out), a deferral — ephemeral outside
/// DMs, so that a private reply can replace it — or, for a button, a silent acknowledgement.
fn without_reply(handled: bool, is_component: bool, direct: bool) -> (CreateInteractionResponse, State) {
    match (handled, is_component) {
        (_, true) => (CreateInteractionResponse::Acknowledge, State::Answered),
        (true, false) => (notice("Done."), State::Answered),
        (false, false) => {
            let ephemeral = !direct;
            let defer = CreateInteractionResponseMessage::new().ephemeral(ephemeral);
            (CreateInteractionResponse::Defer(defer), State::Deferred { ephemeral })
        }
    }
}

/// An ephemeral notice as the whole answer.
fn notice(text: &str) -> CreateInteractionResponse {
    CreateInteractionResponse::Message(CreateInteractionResponseMessage::new().content(text).ephemeral(true))
}

impl Intake {
    /// The first answer to `i`; `None` when `i` was seen before (a duplicated dispatch or a replay after a
    /// restart), which gets no answer. `Err` when the dispatcher is shutting down (the endpoint answers 503).
    pub async fn take(&self, i: Interaction) -> Result<Option<CreateInteractionResponse>, SinkError> {
        let (Some(user), Some(chat)) = (i.user.clone(), i.chat.clone()) else {
            return Ok(Some(CreateInteractionResponse::Pong));
        };
        let kind = match &i.action {
            Action::Ping => return Ok(Some(CreateInteractionResponse::Pong)),
            Action::Autocomplete => {
                return Ok(Some(CreateInteractionResponse::Autocomplete(CreateAutocompleteResponse::new())));
            }
            Action::Unsupported => {
                return Ok(Some(notice("This kind of command is not supported here; use a slash command.")));
            }
            Action::Command { name, args } if name == ANSWER_COMMAND => {
                if args.is_empty() {
                    return Ok(Some(notice("Type your answer after /answer.")));
                }
                EventKind::Text(args.clone())
            }
            Action::Command { name, args } => match CommandCall::parse(&format!("/{name} {args}"), None) {
                Some(call) => EventKind::Command(call),
                None => return Ok(Some(notice("That command name is not one I know."))),
            },
            Action::ModalSubmit { text } => EventKind::Text(text.trim().to_string()),
            Action::Component { custom_id } => {
                // A component sent by another replica is looked up among the replicas first.
                self.components.prefetch(custom_id).await;
                match self.components.resolve(custom_id) {
                    Some(Target::Button { chat: c, data }) if c == chat.id => EventKind::Button(data),
                    Some(Target::CodeEntry { user: u, prompt }) if u == user.id => {
                        return Ok(Some(CreateInteractionResponse::Modal(crate::message::modal(&prompt))));
                    }
                    Some(Target::CodeEntry { .. }) => return Ok(Some(notice("This button is for someone else."))),
                    _ => return Ok(Some(notice("This button has expired. Run the command again."))),
                }
            }
        };
        let private_input = matches!(i.action, Action::ModalSubmit { .. });
        self.dispatch(i, user, chat, kind, private_input).await
    }

    async fn dispatch(
        &self,
        i: Interaction,
        user: UserRef,
        chat: ChatRef,
        kind: EventKind,
        private_input: bool,
    ) -> Result<Option<CreateInteractionResponse>, SinkError> {
        let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
            return Ok(Some(notice("I am very busy right now; try again in a moment.")));
        };
        let is_component = matches!(i.action, Action::Component { .. });
        let direct = chat.is_private();
        let (ex, mut first) = Exchange::new(i.id, i.token, !private_input, is_component, direct);
        self.exchanges.insert(&user.id, &chat.id, ex.clone());
        let (display_name, language) = (i.display_name, i.locale);
        let event =
            Event { user, display_name, chat, message_id: None, kind, private_input, addressed: true, language };
        // Interaction ids are unique: a repeated one (a replayed request, a gateway dispatch sent twice) runs
        // once, even across a restart.
        let envelope = palisade_core::Envelope::new(event).delivery(format!("discord:interaction:{}", i.id));
        let (sink, outbox, handled) = (self.sink.clone(), self.outbox.clone(), ex.clone());
        let mut done = tokio::spawn(async move {
            let result = sink.submit_and_wait_envelope(envelope).await;
            outbox.close(&handled).await;
            drop(permit);
            result
        });
        // A zero window always defers (no waiting at all).
        let finished = if self.ack_within.is_zero() {
            None
        } else {
            tokio::select! {
                biased;
                // The sender is only dropped after sending, or by `settle` below.
                answer = &mut first => return answer.map(Some).map_err(|_| SinkError::Closed),
                result = &mut done => Some(result.unwrap_or(Err(SinkError::Closed))),
                () = tokio::time::sleep(self.ack_within) => None,
            }
        };
        if matches!(finished, Some(Ok(palisade_core::Admission::Repeat))) {
            return Ok(None);
        }
        let closed = matches!(finished, Some(Err(_)));
        let fallback = || without_reply(finished.is_some(), is_component, direct);
        match ex.settle(fallback) {
            Some(_) if closed => Err(SinkError::Closed),
            Some(answer) => Ok(Some(answer)),
            // A reply took the first answer while the fallback was being chosen.
            None => first.await.map(Some).map_err(|_| SinkError::Closed),
        }
    }
}
