//! The pseudonyms of the subjects a process handles, computed once each: every store operation about a
//! person needs its keyed hash, and the same people write again and again (an event is journaled, handled
//! and cleared; its flow is read and written).
//!
//! Bounded: when [`CAPACITY`] subjects are remembered, the memo starts afresh. It holds only what the process
//! already holds in its events (platform user ids) and their keyed hashes, never a key; an erasure clears it
//! (the erased person's other linked identities are known to the store only by their hashes).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use super::Subject;
use super::layout::{self, HASH_LEN};
use crate::crypto::Key;

/// Most subjects remembered at once.
pub(crate) const CAPACITY: usize = 4096;

/// Subject → pseudonym, under one index key.
#[derive(Default)]
pub(crate) struct Pseudonyms {
    known: Mutex<HashMap<String, [u8; HASH_LEN]>>,
}

impl Pseudonyms {
    /// The pseudonym of `subject` under `index` (the store's one index key: the memo never mixes keys).
    pub(crate) fn of(&self, index: &Key, subject: &Subject) -> [u8; HASH_LEN] {
        if let Some(hash) = self.lock().get(subject.as_str()) {
            return *hash;
        }
        let hash = layout::subject_hash(index, subject);
        let mut known = self.lock();
        if known.len() >= CAPACITY {
            known.clear();
        }
        known.insert(subject.as_str().to_string(), hash);
        hash
    }

    /// Forgets every subject (one was erased).
    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, [u8; HASH_LEN]>> {
        self.known.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::UserRef;
    use crate::platform::Platform;

    fn subject(platform: Platform, id: &str) -> Subject {
        Subject::user(&UserRef::new(platform, id))
    }

    #[test]
    fn a_remembered_pseudonym_is_the_keyed_hash_and_the_memo_stays_bounded() {
        let index = Key::from_bytes(&[9u8; 32]).unwrap_or_else(|_| unreachable!());
        let memo = Pseudonyms::default();
        let alice = subject(Platform::TELEGRAM, "1");
        let direct = layout::subject_hash(&index, &alice);
        assert_eq!(memo.of(&index, &alice), direct);
        assert_eq!(memo.of(&index, &alice), direct, "the second answer comes from the memo");
        assert_ne!(memo.of(&index, &subject(Platform::TELEGRAM, "2")), direct);
        for n in 0..CAPACITY + 10 {
            let subject = subject(Platform::CONSOLE, &n.to_string());
            assert_eq!(memo.of(&index, &subject), layout::subject_hash(&index, &subject));
        }
        assert!(memo.lock().len() <= CAPACITY);
        memo.clear();
        assert!(!memo.lock().contains_key(alice.as_str()));
    }
}
