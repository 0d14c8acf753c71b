//! Opaque button ids for adapters: a platform gets a random id, never the bot's own button data, and a press
//! is resolved here — only in the chat the button was sent to. Forged or replayed-elsewhere presses resolve
//! to nothing.
//!
//! The map is in memory and bounded: the oldest ids are forgotten first, and all are forgotten at restart
//! (a press on a forgotten button should be answered "expired").

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use crate::crypto::{CryptoError, random_bytes};

/// Random bytes per id: 128 bits, rendered as 32 hex digits (fits Telegram's 64-byte callback data).
const ID_BYTES: usize = 16;

/// How many ids are remembered by default.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// A fresh random id: 32 lower-case hex digits.
pub fn random_id() -> Result<String, CryptoError> {
    Ok(crate::crypto::hex(&random_bytes(ID_BYTES)?))
}

/// The bounded map from opaque id to (chat, data); `C` is however the platform names a chat.
#[derive(Debug)]
pub struct ButtonIds<C> {
    // A std Mutex: held for a few map operations, never across an await.
    inner: Mutex<Inner<C>>,
}

#[derive(Debug)]
struct Inner<C> {
    capacity: usize,
    by_id: HashMap<String, (C, String)>,
    order: VecDeque<String>,
}

impl<C: Clone> Default for ButtonIds<C> {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl<C: Clone> ButtonIds<C> {
    /// A map remembering at most `capacity` ids.
    pub fn with_capacity(capacity: usize) -> Self {
        Self { inner: Mutex::new(Inner { capacity: capacity.max(1), by_id: HashMap::new(), order: VecDeque::new() }) }
    }

    /// A fresh id standing for `data` on a button sent to `chat`.
    pub fn register(&self, chat: C, data: &str) -> Result<String, CryptoError> {
        let id = random_id()?;
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        while inner.order.len() >= inner.capacity {
            if let Some(old) = inner.order.pop_front() {
                inner.by_id.remove(&old);
            }
        }
        inner.by_id.insert(id.clone(), (chat, data.to_string()));
        inner.order.push_back(id.clone());
        Ok(id)
    }

    /// The chat and data behind `id`, if it is remembered and `sent_here` accepts the chat it was sent to.
    pub fn resolve(&self, id: &str, sent_here: impl Fn(&C) -> bool) -> Option<(C, String)> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.by_id.get(id).filter(|(chat, _)| sent_here(chat)).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_opaque_and_bound_to_their_chat() {
        let ids = ButtonIds::default();
        let a = ids.register(42i64, "notes:yes").unwrap();
        let b = ids.register(42, "notes:yes").unwrap();
        assert_ne!(a, b);
        assert!(a.len() == 32 && !a.contains("notes"));
        assert_eq!(ids.resolve(&a, |c| *c == 42), Some((42, "notes:yes".to_string())));
        assert_eq!(ids.resolve(&a, |c| *c == 43), None, "not from another chat");
        assert_eq!(ids.resolve("forged", |_| true), None);
    }

    #[test]
    fn the_oldest_are_forgotten_first() {
        let ids = ButtonIds::with_capacity(2);
        let first = ids.register(1i64, "a").unwrap();
        let second = ids.register(1, "b").unwrap();
        ids.register(1, "c").unwrap();
        assert_eq!(ids.resolve(&first, |_| true), None);
        assert!(ids.resolve(&second, |_| true).is_some());
    }
}
