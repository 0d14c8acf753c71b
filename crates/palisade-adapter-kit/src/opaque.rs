//! Opaque ids for buttons and other components: a platform gets a random id, never the bot's own data, and
//! a press is resolved here. What an id stands for (the chat it was sent to, the user it was for, the data)
//! is the adapter's type `T`; [`OpaqueIds::resolve`] takes a check, so a press from anywhere the id was not
//! sent resolves to nothing.
//!
//! The map is in memory and bounded: the oldest ids are forgotten first, and all are forgotten at restart
//! (a press on a forgotten button should be answered "expired"). With replicas, an [`IdBook`] the runtime
//! hands the adapter ([`OpaqueIds::share`]) keeps every id as well: a button sent by one replica resolves
//! on another, which looks it up there ([`OpaqueIds::prefetch`]) before resolving the press.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use palisade_core::IdBook;
use palisade_crypto::{CryptoError, hex, random_bytes};
use serde::Serialize;
use serde::de::DeserializeOwned;

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
pub struct OpaqueIds<T> {
    // A std Mutex: held for a few map operations, never across an await.
    inner: Mutex<Inner<T>>,
    /// Where the other replicas find the ids registered here (set once, when the adapter starts).
    book: OnceLock<Arc<dyn IdBook>>,
}

impl<T> std::fmt::Debug for OpaqueIds<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpaqueIds").field("shared", &self.book.get().is_some()).finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Inner<T> {
    capacity: usize,
    by_id: HashMap<String, T>,
    order: VecDeque<String>,
}

impl<T: Clone + Serialize + DeserializeOwned> Default for OpaqueIds<T> {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl<T: Clone + Serialize + DeserializeOwned> OpaqueIds<T> {
    /// A map remembering at most `capacity` ids.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner { capacity: capacity.max(1), by_id: HashMap::new(), order: VecDeque::new() }),
            book: OnceLock::new(),
        }
    }

    /// Shares every id registered from now on with the other replicas through `book`.
    pub fn share(&self, book: Arc<dyn IdBook>) {
        let _ = self.book.set(book);
    }

    /// A fresh id standing for `value`. With replicas it returns once the id is in the shared book, so a
    /// message carrying it, sent after, can be pressed on any replica at once (were the id written in the
    /// background, a press arriving at another replica first would find it unknown and answer "expired").
    /// When the book cannot be written, the id still works on this replica; the failure is logged.
    pub async fn register(&self, value: T) -> Result<String, CryptoError> {
        let id = random_id()?;
        if let Some(book) = self.book.get()
            && let Ok(encoded) = serde_json::to_vec(&value)
            && let Err(error) = book.remember(&id, &encoded).await
        {
            tracing::warn!(%error, "could not share a button id with the other replicas; pressed there it expires");
        }
        self.insert(id.clone(), value);
        Ok(id)
    }

    /// Looks `id` up in the shared book when it is not known here (sent by another replica), so that
    /// [`OpaqueIds::resolve`] finds it. Does nothing without a book.
    pub async fn prefetch(&self, id: &str) {
        let Some(book) = self.book.get() else { return };
        if id.len() != ID_BYTES * 2 || self.inner.lock().unwrap_or_else(PoisonError::into_inner).by_id.contains_key(id)
        {
            return;
        }
        match book.recall(id).await {
            Ok(Some(encoded)) => match serde_json::from_slice(&encoded) {
                Ok(value) => self.insert(id.to_string(), value),
                Err(error) => tracing::warn!(%error, "a shared button id cannot be read"),
            },
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "could not look a button id up among the replicas"),
        }
    }

    fn insert(&self, id: String, value: T) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        while inner.order.len() >= inner.capacity {
            if let Some(old) = inner.order.pop_front() {
                inner.by_id.remove(&old);
            }
        }
        inner.by_id.insert(id.clone(), value);
        inner.order.push_back(id);
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

    #[tokio::test]
    async fn ids_are_opaque_and_bound_to_where_they_were_sent() {
        let ids = OpaqueIds::default();
        let a = ids.register((42i64, "notes:yes".to_string())).await.unwrap();
        let b = ids.register((42, "notes:yes".to_string())).await.unwrap();
        assert_ne!(a, b);
        assert!(a.len() == 32 && !a.contains("notes"));
        assert_eq!(ids.resolve(&a, |(c, _)| *c == 42), Some((42, "notes:yes".to_string())));
        assert_eq!(ids.resolve(&a, |(c, _)| *c == 43), None, "not from another chat");
        assert_eq!(ids.resolve("forged", |_| true), None);
    }

    #[tokio::test]
    async fn the_oldest_are_forgotten_first() {
        let ids = OpaqueIds::with_capacity(2);
        let first = ids.register(1).await.unwrap();
        let second = ids.register(2).await.unwrap();
        ids.register(3).await.unwrap();
        assert_eq!(ids.resolve(&first, |_| true), None);
        assert_eq!(ids.resolve(&second, |_| true), Some(2));
    }

    /// A book in memory standing for the runtime's (which keeps it in the shared store).
    #[derive(Default)]
    struct Book(Mutex<HashMap<String, Vec<u8>>>);

    #[async_trait::async_trait]
    impl IdBook for Book {
        async fn remember(&self, id: &str, value: &[u8]) -> Result<(), String> {
            self.0.lock().unwrap().insert(id.to_string(), value.to_vec());
            Ok(())
        }

        async fn recall(&self, id: &str) -> Result<Option<Vec<u8>>, String> {
            Ok(self.0.lock().unwrap().get(id).cloned())
        }
    }

    #[tokio::test]
    async fn an_id_registered_on_one_replica_resolves_on_another_through_the_book() {
        let book = Arc::new(Book::default());
        let (here, there) = (OpaqueIds::default(), OpaqueIds::default());
        here.share(book.clone());
        there.share(book.clone());
        let id = here.register((42i64, "notes:yes".to_string())).await.unwrap();
        assert!(book.0.lock().unwrap().contains_key(&id), "in the book once registered, before any message carries it");
        assert_eq!(there.resolve(&id, |_| true), None, "not known there before it is looked up");
        there.prefetch(&id).await;
        assert_eq!(there.resolve(&id, |(c, _)| *c == 42), Some((42, "notes:yes".to_string())));
        assert_eq!(there.resolve(&id, |(c, _)| *c == 43), None, "still only from the chat it was sent to");
        there.prefetch("not-an-id").await;
        assert_eq!(there.resolve("not-an-id", |_| true), None);
        // Without a book nothing is shared.
        let alone: OpaqueIds<(i64, String)> = OpaqueIds::default();
        alone.prefetch(&id).await;
        assert_eq!(alone.resolve(&id, |_| true), None);
    }
}
