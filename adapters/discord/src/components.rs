//! Opaque component ids: Discord gets a random `custom_id`, never the bot's own button data, and a press is
//! resolved here — a button only in the channel it was sent to, a "enter code" button only for its user.
//!
//! The map is in memory and bounded: the oldest ids are forgotten first, and all at restart. A press on a
//! forgotten id is answered "expired" and goes no further.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use palisade::crypto::{CryptoError, random_bytes};

/// Random bytes per id (128 bits, 32 hex digits; Discord allows 100 characters).
const ID_BYTES: usize = 16;

/// How many ids are remembered by default.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// The `custom_id` of the verification modal and of its text input (the modal's answer is taken from its
/// first text input whatever the ids; these only label it).
pub const MODAL_ID: &str = "palisade-code";

/// What a component id stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A bot button: its data, valid in `chat`.
    Button {
        /// The channel the button was sent to.
        chat: String,
        /// The data the bot attached.
        data: String,
    },
    /// Opens the verification modal for `user` (used where a modal cannot be the first answer).
    CodeEntry {
        /// The user the prompt was for.
        user: String,
        /// The prompt (its first words title the form).
        prompt: String,
    },
}

/// The bounded map from opaque id to target.
#[derive(Debug)]
pub struct Components {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    capacity: usize,
    by_id: HashMap<String, Target>,
    order: VecDeque<String>,
}

impl Default for Components {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl Components {
    /// A map remembering at most `capacity` ids.
    pub fn with_capacity(capacity: usize) -> Self {
        let inner = Inner { capacity: capacity.max(1), by_id: HashMap::new(), order: VecDeque::new() };
        Self { inner: Mutex::new(inner) }
    }

    /// A fresh id standing for `target`.
    pub fn register(&self, target: Target) -> Result<String, CryptoError> {
        let id: String = random_bytes(ID_BYTES)?.iter().map(|b| format!("{b:02x}")).collect();
        // A std Mutex: held for a few map operations, never across an await.
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        while inner.order.len() >= inner.capacity {
            if let Some(old) = inner.order.pop_front() {
                inner.by_id.remove(&old);
            }
        }
        inner.by_id.insert(id.clone(), target);
        inner.order.push_back(id.clone());
        Ok(id)
    }

    /// What `id` stands for, if remembered.
    pub fn resolve(&self, id: &str) -> Option<Target> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).by_id.get(id).cloned()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn ids_are_opaque_and_bounded() {
        let c = Components::with_capacity(2);
        let button = Target::Button { chat: "7".into(), data: "bank:confirm".into() };
        let a = c.register(button.clone()).unwrap();
        assert!(a.len() == 32 && !a.contains("bank"));
        assert_eq!(c.resolve(&a), Some(button));
        let b = c.register(Target::CodeEntry { user: "9".into(), prompt: String::new() }).unwrap();
        c.register(Target::CodeEntry { user: "9".into(), prompt: String::new() }).unwrap();
        assert_eq!(c.resolve(&a), None, "the oldest is forgotten");
        assert!(c.resolve(&b).is_some());
        assert_eq!(c.resolve("forged"), None);
    }
}
