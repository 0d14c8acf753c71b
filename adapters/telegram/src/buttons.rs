//! Opaque button ids: Telegram gets a random id (at most 64 bytes of callback data), never the bot's own data,
//! and the press is resolved here, only in the chat the button was sent to.
//!
//! The map is in memory and bounded: the oldest ids are forgotten first, and all are forgotten at restart. A
//! press on a forgotten button is answered with "expired" and goes no further.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use palisade::crypto::{CryptoError, random_bytes};

/// Random bytes per id (128 bits; rendered as 32 hex digits, well under Telegram's 64-byte limit).
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
    by_id: HashMap<String, (i64, String)>,
    order: VecDeque<String>,
}

impl Default for ButtonIds {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl ButtonIds {
    /// A map remembering at most `capacity` ids.
    pub fn with_capacity(capacity: usize) -> Self {
        let inner = Inner { capacity: capacity.max(1), by_id: HashMap::new(), order: VecDeque::new() };
        Self { inner: Mutex::new(inner) }
    }

    /// A fresh id standing for `data` on a button sent to `chat`.
    pub fn register(&self, chat: i64, data: &str) -> Result<String, CryptoError> {
        let id: String = random_bytes(ID_BYTES)?.iter().map(|b| format!("{b:02x}")).collect();
        // A std Mutex: held for a few map operations, never across an await.
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

    /// The data behind `id`, if it is remembered and was sent to `chat`.
    pub fn resolve(&self, id: &str, chat: i64) -> Option<String> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.by_id.get(id).filter(|(c, _)| *c == chat).map(|(_, data)| data.clone())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn ids_are_opaque_short_and_bound_to_their_chat() {
        let ids = ButtonIds::default();
        let a = ids.register(42, "notes:yes").unwrap();
        let b = ids.register(42, "notes:yes").unwrap();
        assert_ne!(a, b);
        assert!(a.len() <= 64 && !a.contains("notes"));
        assert_eq!(ids.resolve(&a, 42).as_deref(), Some("notes:yes"));
        assert_eq!(ids.resolve(&a, 43), None, "not from another chat");
        assert_eq!(ids.resolve("forged", 42), None);
    }

    #[test]
    fn the_oldest_are_forgotten_first() {
        let ids = ButtonIds::with_capacity(2);
        let first = ids.register(1, "a").unwrap();
        let second = ids.register(1, "b").unwrap();
        let third = ids.register(1, "c").unwrap();
        assert_eq!(ids.resolve(&first, 1), None);
        assert_eq!(ids.resolve(&second, 1).as_deref(), Some("b"));
        assert_eq!(ids.resolve(&third, 1).as_deref(), Some("c"));
    }
}
