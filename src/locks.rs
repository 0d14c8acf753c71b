//! Async locks per key (per user, say): callers for one key take turns, callers for different keys never
//! wait for each other. Entries are dropped once nobody holds or waits for them, so the map stays as small
//! as the number of keys in use.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use tokio::sync::OwnedMutexGuard;

use crate::sweep::Sweep;

/// A lock per key.
#[derive(Debug)]
pub struct KeyedLocks<K> {
    // A std Mutex around the map: held only to find or insert an entry, never across an await.
    map: Mutex<(Entries<K>, Sweep<1024>)>,
}

/// Each key's lock, while someone holds or waits for it.
type Entries<K> = HashMap<K, Weak<tokio::sync::Mutex<()>>>;

impl<K> Default for KeyedLocks<K> {
    fn default() -> Self {
        Self { map: Mutex::default() }
    }
}

impl<K: Hash + Eq + Clone> KeyedLocks<K> {
    /// Waits for the lock of `key`; it is released when the guard is dropped.
    pub async fn lock(&self, key: &K) -> OwnedMutexGuard<()> {
        let lock = {
            let mut guard = self.map.lock().unwrap_or_else(PoisonError::into_inner);
            // The entries of keys nobody holds or waits for any more are dropped as the map grows.
            let (map, sweep) = &mut *guard;
            match map.get(key).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    sweep.retain(map, |_, weak| weak.strong_count() > 0);
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    map.insert(key.clone(), Arc::downgrade(&lock));
                    lock
                }
            }
        };
        lock.lock_owned().await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn one_key_takes_turns_and_others_do_not_wait() {
        let locks = Arc::new(KeyedLocks::default());
        let held = locks.lock(&"ann").await;
        let ben = tokio::time::timeout(Duration::from_millis(10), locks.lock(&"ben")).await;
        assert!(ben.is_ok(), "another key is free");
        let waiting = tokio::spawn({
            let locks = locks.clone();
            async move { drop(locks.lock(&"ann").await) }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!waiting.is_finished(), "the same key waits");
        drop(held);
        waiting.await.unwrap();
    }
}
