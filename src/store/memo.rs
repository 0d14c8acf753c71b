//! Keyed hashes the store needs again and again, each computed once: the pseudonyms of the subjects a process
//! handles (every store operation about a person needs one, and the same people write again and again: an
//! event is journaled, handled and cleared) and the hashed ids of the records it uses (a conversation's flow
//! is looked up at each of its events). Each costs two BLAKE2b compressions, a few microseconds; a lookup
//! here costs a fraction of one.
//!
//! Bounded: when [`CAPACITY`] inputs are remembered, a memo starts afresh. It holds only what the process
//! already holds (platform user ids, record ids) and their keyed hashes, never a key; an erasure clears it
//! (the erased person's other linked identities are known to the store only by their hashes).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use super::layout::HASH_LEN;
use crate::crypto::Key;

/// Most inputs a memo remembers at once.
pub(crate) const CAPACITY: usize = 4096;

/// Input → its keyed hash under the store's index key.
#[derive(Default)]
pub(crate) struct Memo {
    known: Mutex<HashMap<Box<[u8]>, [u8; HASH_LEN]>>,
}

impl Memo {
    /// The keyed hash of `input` under `index` (the store's one index key: a memo never mixes keys).
    pub(crate) fn hash(&self, index: &Key, input: &[u8]) -> [u8; HASH_LEN] {
        if let Some(hash) = self.lock().get(input) {
            return *hash;
        }
        let hash = index.hash(input);
        let mut known = self.lock();
        if known.len() >= CAPACITY {
            known.clear();
        }
        known.insert(input.into(), hash);
        hash
    }

    /// Forgets everything (a subject was erased).
    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    /// Whether it remembers nothing.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Box<[u8]>, [u8; HASH_LEN]>> {
        self.known.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::UserRef;
    use crate::platform::Platform;
    use crate::store::Subject;
    use crate::store::layout;

    #[test]
    fn a_remembered_hash_is_the_keyed_hash_and_the_memo_stays_bounded() {
        let index = Key::from_bytes(&[9u8; 32]).unwrap_or_else(|_| unreachable!());
        let memo = Memo::default();
        let alice = Subject::user(&UserRef::new(Platform::TELEGRAM, "1"));
        let direct = index.hash(b"subject\0telegram:1");
        assert_eq!(memo.hash(&index, &layout::subject_input(&alice)), direct);
        assert_eq!(memo.hash(&index, &layout::subject_input(&alice)), direct, "the second answer comes from the memo");
        let flow = layout::id_input("core.flows", b"telegram:1");
        assert_eq!(memo.hash(&index, &flow), index.hash(b"core.flows\0telegram:1"));
        assert_ne!(memo.hash(&index, &flow), direct);
        for n in 0..CAPACITY + 10 {
            let id = n.to_string();
            assert_eq!(
                memo.hash(&index, &layout::id_input("notes", id.as_bytes())),
                index.hash(&[b"notes\0", id.as_bytes()].concat())
            );
        }
        assert!(memo.lock().len() <= CAPACITY);
        memo.clear();
        assert!(memo.is_empty());
    }
}
