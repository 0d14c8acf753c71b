//! Opaque button values: a Block Kit button carries a random id, never the bot's own data, and a press is
//! resolved here — only in the channel the button was sent to.
//!
//! The map is in memory and bounded: the oldest ids are forgotten first, and all are forgotten at restart. A
//! press on a forgotten button is answered with "expired" and goes no further.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use palisade::ChatRef;
use palisade::crypto::{CryptoError, random_bytes};

/// Random bytes per id (128 bits, as 32 hex digits; Slack allows 2000 characters in a value).
const ID_BYTES: usize = 16;

/// How many button ids are remembered by default.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// The bounded map from opaque button id to (chat, data).
#[derive(Debug)]
pub struct ButtonIds {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    capacity: usize,
    by_id: HashMap<String, (ChatRef, String)>,
    order: VecDeque<String>,
}

impl Default for ButtonIds {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

/// A fresh random id: 32 lower-case hex digits.
pub fn random_id() -> Result<String, CryptoError> {
    Ok(random_bytes(ID_BYTES)?.iter().map(|b| format!("{b:02x}")).collect())
}

impl ButtonIds {
    /// A map remembering at most `capacity` ids.
    pub fn with_capacity(capacity: usize) -> Self {
        let inner = Inner { capacity: capacity.max(1), by_id: HashMap::new(), order: VecDeque::new() };
        Self { inner: Mutex::new(inner) }
    }

    /// A fresh id standing for `data` on a button sent to `chat`.
    pub fn register(&self, chat: &ChatRef, data: &str) -> Result<String, CryptoError> {
        let id = random_id()?;
        // A std Mutex: held for a few map operations, never across an await.
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        while inner.order.len() >= inner.capacity {
            if let Some(old) = inner.order.pop_front() {
                inner.by_id.remove(&old);
            }
        }
        inner.by_id.insert(id.clone(), (chat.clone(), data.to_string()));
        inner.order.push_back(id.clone());
        Ok(id)
    }

    /// The chat and data behind `id`, if it is remembered and was sent to channel `channel`.
    pub fn resolve(&self, id: &str, channel: &str) -> Option<(ChatRef, String)> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.by_id.get(id).filter(|(chat, _)| chat.id == channel).cloned()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use palisade::{ChatKind, Platform};

    use super::*;

    fn chat(id: &str) -> ChatRef {
        ChatRef::new(Platform::Slack, id, ChatKind::Group)
    }

    #[test]
    fn ids_are_opaque_and_bound_to_their_channel() {
        let ids = ButtonIds::default();
        let a = ids.register(&chat("C1"), "bank:confirm").unwrap();
        let b = ids.register(&chat("C1"), "bank:confirm").unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(!a.contains("bank"));
        assert_eq!(ids.resolve(&a, "C1"), Some((chat("C1"), "bank:confirm".into())));
        assert_eq!(ids.resolve(&a, "C2"), None, "not from another channel");
        assert_eq!(ids.resolve("forged", "C1"), None);
    }

    #[test]
    fn the_oldest_are_forgotten_first() {
        let ids = ButtonIds::with_capacity(2);
        let first = ids.register(&chat("C1"), "a").unwrap();
        let second = ids.register(&chat("C1"), "b").unwrap();
        let third = ids.register(&chat("C1"), "c").unwrap();
        assert_eq!(ids.resolve(&first, "C1"), None);
        assert!(ids.resolve(&second, "C1").is_some() && ids.resolve(&third, "C1").is_some());
    }
}
