//! The answer to one interaction, and which interaction a reply answers.
//!
//! Discord wants a first answer within 3 seconds and then accepts follow-ups through the interaction's token
//! for 15 minutes. The endpoint holds the HTTP request open for a short while: if the dispatcher's first
//! reply comes in time it *is* the answer (a message, or the verification modal, which can only ever be a
//! first answer); otherwise the endpoint answers "deferred" and the replies follow through REST.
//!
//! Replies carry only (user, chat), so the latest interaction of each conversation is remembered here; the
//! dispatcher handles a conversation's events in order, so that is the one being answered. Replies with no
//! live interaction (a flow timing out much later) are sent as ordinary messages instead.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use palisade_adapter_kit::Expiring;
use palisade_core::Secret;
use serenity::builder::CreateInteractionResponse;
use tokio::sync::oneshot;

/// How long an interaction token can be used for follow-ups (Discord: 15 minutes), with a margin.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(14 * 60);

/// Conversations remembered at most; past that, expired ones are dropped, then the oldest.
const CAPACITY: usize = 10_000;

/// Where an interaction's answer stands.
#[derive(Debug)]
pub enum State {
    /// Nothing answered yet; the first reply goes through this channel to the waiting endpoint.
    Waiting(oneshot::Sender<CreateInteractionResponse>),
    /// A first answer was given; later replies are follow-ups.
    Answered,
    /// Answered "deferred": the original response shows "thinking…" until it is edited or deleted.
    /// `ephemeral` is how it was deferred (the edit keeps that visibility).
    Deferred {
        /// Whether the deferred original is visible only to the user.
        ephemeral: bool,
    },
}

/// One interaction being answered.
#[derive(Debug)]
pub struct Exchange {
    /// The interaction id.
    pub id: u64,
    /// The interaction token (a credential: its `Debug` is redacted).
    pub token: Secret,
    /// Whether the first answer may be a modal (not after a modal submission).
    pub can_open_modal: bool,
    /// A button press (deferred silently, since the message with the button already exists).
    pub is_component: bool,
    /// Whether the chat is a direct one (ephemerality does not matter there).
    pub direct: bool,
    created: Instant,
    state: Mutex<State>,
}

impl Exchange {
    /// A new exchange, and the receiver on which the endpoint waits for the first answer.
    pub fn new(
        id: u64,
        token: Secret,
        can_open_modal: bool,
        is_component: bool,
        direct: bool,
    ) -> (Arc<Self>, oneshot::Receiver<CreateInteractionResponse>) {
        let (tx, rx) = oneshot::channel();
        let state = Mutex::new(State::Waiting(tx));
        (Arc::new(Self { id, token, can_open_modal, is_component, direct, created: Instant::now(), state }), rx)
    }

    /// True while the token can still be used.
    pub fn alive(&self) -> bool {
        self.created.elapsed() < TOKEN_LIFETIME
    }

    /// True in the first seconds, while Discord may still be processing the first answer.
    pub fn young(&self) -> bool {
        self.created.elapsed() < Duration::from_secs(10)
    }

    /// Runs `f` on the state under the lock (a std Mutex: never held across an await).
    pub fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// If nothing was answered yet, answers with what `fallback` gives (and moves to its state); returns
    /// that answer, or `None` when a reply was already sent through the channel.
    pub fn settle(
        &self,
        fallback: impl FnOnce() -> (CreateInteractionResponse, State),
    ) -> Option<CreateInteractionResponse> {
        self.with_state(|state| {
            if !matches!(state, State::Waiting(_)) {
                return None;
            }
            let (answer, next) = fallback();
            *state = next;
            Some(answer)
        })
    }
}

/// The latest interaction of each conversation (user id, channel id).
#[derive(Debug)]
pub struct Exchanges {
    map: Mutex<Expiring<(String, String), Arc<Exchange>>>,
}

impl Default for Exchanges {
    fn default() -> Self {
        Self { map: Mutex::new(Expiring::new(TOKEN_LIFETIME, CAPACITY)) }
    }
}

impl Exchanges {
    /// Makes `exchange` the one answered for (user, chat). Expired ones are forgotten first, then the oldest
    /// when `CAPACITY` are kept, oldest first (a sweep of them all at every interaction made each cost as
    /// much as the conversations of the last 14 minutes, once they were that many).
    pub fn insert(&self, user: &str, chat: &str, exchange: Arc<Exchange>) {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.note((user.to_string(), chat.to_string()), exchange, tokio::time::Instant::now());
    }

    /// The live interaction of (user, chat), if any.
    pub fn current(&self, user: &str, chat: &str) -> Option<Arc<Exchange>> {
        let map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(&(user.to_string(), chat.to_string())).map(|(e, _)| e).filter(|e| e.alive()).cloned()
    }

    /// Forgets the interaction of (user, chat): what follows is not an answer to it.
    pub fn forget(&self, user: &str, chat: &str) {
        self.map.lock().unwrap_or_else(PoisonError::into_inner).remove(&(user.to_string(), chat.to_string()));
    }
}
