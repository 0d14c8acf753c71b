//! What flows through the dispatcher's layers.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::adapter::Capabilities;
use crate::event::Event;
use crate::reply::{Reply, ReplyBody};

/// One event on its way to a handler, with what the outer layers learned about it.
#[derive(Clone, Debug)]
pub struct Request {
    /// The event.
    pub event: Event,
    /// What the originating platform can do.
    pub capabilities: Capabilities,
    /// Roles the user holds (filled by the identity step from `[roles]`).
    pub roles: Arc<BTreeSet<String>>,
    /// Step-up scopes (`bank.transfer`) the user holds a fresh grant for in this conversation, filled by the
    /// step-up gate. A sensitive action whose scope is missing fails with "step-up required" (fail closed).
    pub grants: Arc<BTreeSet<String>>,
    /// Who waits for this event to be handled (an adapter answering its platform). A layer that hands the
    /// event's work on to another event (step-up resubmitting the action a code approved) takes it along, so
    /// the waiter is told only when that work is done too.
    pub done: Done,
    /// The built-in texts, in the operator's wording and languages.
    pub texts: Arc<palisade_core::texts::Texts>,
}

/// The English catalogue, for requests made without the dispatcher's.
static ENGLISH: std::sync::LazyLock<Arc<palisade_core::texts::Texts>> = std::sync::LazyLock::new(Arc::default);

/// The signal that an event, and whatever it handed its work on to, is done; shared by a request's clones.
#[derive(Clone, Debug, Default)]
pub struct Done(Arc<std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>>);

impl Done {
    /// A slot holding `sender`.
    pub fn new(sender: Option<tokio::sync::oneshot::Sender<()>>) -> Self {
        Self(Arc::new(std::sync::Mutex::new(sender)))
    }

    /// Takes the signal (to hand it on, or to fire it); `None` when already taken.
    pub fn take(&self) -> Option<tokio::sync::oneshot::Sender<()>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
    }
}

impl Request {
    /// A request for `event` from a platform with `capabilities`, with no roles and no grants.
    pub fn new(event: Event, capabilities: Capabilities) -> Self {
        Self {
            event,
            capabilities,
            roles: Arc::default(),
            grants: Arc::default(),
            done: Done::default(),
            texts: ENGLISH.clone(),
        }
    }

    /// The built-in text `key` in the user's language, with `values` filled in.
    pub fn say(&self, key: &str, values: &[(&str, &str)]) -> String {
        self.texts.fill(self.event.language.as_deref(), key, values)
    }

    /// [`Request::answer`] with the built-in text `key` (see [`Request::say`]).
    pub fn answer_with(&self, key: &str, values: &[(&str, &str)]) -> Reply {
        self.answer(self.say(key, values))
    }

    /// A text reply to the event's user in the event's chat.
    pub fn answer(&self, text: impl Into<String>) -> Reply {
        Reply {
            chat: self.event.chat.clone(),
            user: self.event.user.clone(),
            private: false,
            body: ReplyBody::Text { text: text.into(), buttons: Vec::new() },
            retract: None,
        }
    }
}

/// What a handled request produces: the replies to deliver, in order.
pub type Response = Vec<Reply>;
