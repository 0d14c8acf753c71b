//! A bounded set of recently handled delivery ids, so a payload Slack sends again (an Events API retry after
//! a slow acknowledgement, a Socket Mode redelivery) is handled once.
//!
//! An id is *claimed* before its payload is handed on and *released* if that fails, so two copies racing
//! each other cannot both pass, and a copy refused for lack of room can be taken when Slack retries.

use std::collections::{HashSet, VecDeque};
use std::sync::{Mutex, PoisonError};

/// How many ids are remembered by default; Slack retries within an hour, far fewer deliveries than this.
pub const DEFAULT_CAPACITY: usize = 8192;

/// The most recent ids, oldest forgotten first.
#[derive(Debug)]
pub struct RecentIds {
    // A std Mutex: a few set operations, never held across an await.
    inner: Mutex<(HashSet<String>, VecDeque<String>)>,
    capacity: usize,
}

impl Default for RecentIds {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl RecentIds {
    /// A set remembering at most `capacity` ids.
    pub fn with_capacity(capacity: usize) -> Self {
        Self { inner: Mutex::default(), capacity: capacity.max(1) }
    }

    /// Records `id`; false when it was already there (a repeat).
    pub fn claim(&self, id: &str) -> bool {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let (seen, order) = &mut *inner;
        if !seen.insert(id.to_string()) {
            return false;
        }
        order.push_back(id.to_string());
        while order.len() > self.capacity {
            if let Some(old) = order.pop_front() {
                seen.remove(&old);
            }
        }
        true
    }

    /// Forgets `id` again (its payload could not be handed on).
    pub fn release(&self, id: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let (seen, order) = &mut *inner;
        seen.remove(id);
        order.retain(|o| o != id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_once_within_a_bounded_window() {
        let r = RecentIds::with_capacity(2);
        assert!(r.claim("a"));
        assert!(!r.claim("a"));
        assert!(r.claim("b"));
        assert!(r.claim("c"));
        assert!(r.claim("a"), "forgotten after two newer ids");
        r.release("c");
        assert!(r.claim("c"));
    }
}
