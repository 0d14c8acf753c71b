//! Opaque ids for buttons and other components: a platform gets a random id, never the bot's own data, and
//! a press is resolved here. What an id stands for (the chat it was sent to, the user it was for, the data)
//! is the adapter's type `T`; [`OpaqueIds::resolve`] takes a check, so a press from anywhere the id was not
//! sent resolves to nothing.
//!
//! The map is in memory and bounded: the oldest ids are forgotten first, and all are forgotten at restart
//! (a press on a forgotten button should be answered "expired").

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use palisade_crypto::{CryptoError, hex, random_bytes};

/// Random bytes per id: 128 bits, rendered as 32 hex digits (fits Telegram's 64-byte callback data and
/// Discord's 100-character `custom_id`).
const ID_BYTES: usize = 16;

/// How many ids are remembered by default.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// A fresh random id: 32 lower-case hex digits.
pub fn random_id() -> Result<String, CryptoError> {
    Ok(hex(&random_bytes(ID_BYTES)?))
}

/// The bounded map from opaque id to what it stands for.
#[derive(Debug)]
pub struct OpaqueIds<T> {
    // A std Mutex: held for a few map operations, never across an await.
    inner: Mutex<Inner<T>>,
}

#[derive(Debug)]
struct Inner<T> {
    capacity: usize,
    by_id: HashMap<String, T>,
    order: VecDeque<String>,
}

impl<T: Clone> Default for OpaqueIds<T> {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl<T: Clone> OpaqueIds<T> {
    /// A map remembering at most `capacity` ids.
    pub fn with_capacity(capacity: usize) -> Self {
        Self { inner: Mutex::new(Inner { capacity: capacity.max(1), by_id: HashMap::new(), order: VecDeque::new() }) }
    }

    /// A fresh id standing for `value`.
    pub fn register(&self, value: T) -> Result<String, CryptoError> {
        let id = random_id()?;
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        while inner.order.len() >= inner.capacity {
            if let Some(old) = inner.order.pop_front() {
                inner.by_id.remove(&old);
            }
        }
        inner.by_id.insert(id.clone(), value);
        inner.order.push_back(id.clone());
        Ok(id)
    }

    /// What `id` stands for, if it is remembered and `valid_here` accepts it (the press came from the chat,
    /// and the user, the id was sent to).
    pub fn resolve(&self, id: &str, valid_here: impl Fn(&T) -> bool) -> Option<T> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.by_id.get(id).filter(|v| valid_here(v)).cloned()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn ids_are_opaque_and_bound_to_where_they_were_sent() {
        let ids = OpaqueIds::default();
        let a = ids.register((42i64, "notes:yes".to_string())).unwrap();
        let b = ids.register((42, "notes:yes".to_string())).unwrap();
        assert_ne!(a, b);
        assert!(a.len() == 32 && !a.contains("notes"));
        assert_eq!(ids.resolve(&a, |(c, _)| *c == 42), Some((42, "notes:yes".to_string())));
        assert_eq!(ids.resolve(&a, |(c, _)| *c == 43), None, "not from another chat");
        assert_eq!(ids.resolve("forged", |_| true), None);
    }

    #[test]
    fn the_oldest_are_forgotten_first() {
        let ids = OpaqueIds::with_capacity(2);
        let first = ids.register(1).unwrap();
        let second = ids.register(2).unwrap();
        ids.register(3).unwrap();
        assert_eq!(ids.resolve(&first, |_| true), None);
        assert_eq!(ids.resolve(&second, |_| true), Some(2));
    }
}
