//! Bounded sets of recently seen delivery ids, so a repeated or replayed delivery (a webhook retry, a
//! captured request sent again, a duplicated gateway dispatch) is handled once.
//!
//! An id is *claimed* before its payload is handed on and *released* if that fails, so two copies racing
//! each other cannot both pass, and a copy refused for lack of room can be taken when the platform retries.
//! Ids are forgotten when the set is full (oldest first) or, with a time to live, once no copy could still
//! pass the platform's freshness check.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// Ids remembered at most by default: a bound on memory whatever the delivery rate.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// The most recent ids, oldest forgotten first.
#[derive(Debug)]
pub struct RecentIds {
    // A std Mutex: a few map operations, never held across an await.
    inner: Mutex<Inner>,
    capacity: usize,
    keep: Option<Duration>,
}

#[derive(Debug, Default)]
struct Inner {
    seen: HashMap<String, Instant>,
    order: VecDeque<(String, Instant)>,
}

impl Default for RecentIds {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY, None)
    }
}

impl RecentIds {
    /// A set remembering at most `capacity` ids, each for `keep` (or until pushed out, when `None`).
    pub fn new(capacity: usize, keep: Option<Duration>) -> Self {
        Self { inner: Mutex::default(), capacity: capacity.max(1), keep }
    }

    /// Records `id`; false when it is already there (a repeat or a replay).
    pub fn claim(&self, id: &str) -> bool {
        let now = Instant::now();
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let Inner { seen, order } = &mut *inner;
        while let Some((old, at)) = order.front() {
            let expired = self.keep.is_some_and(|keep| now.duration_since(*at) > keep);
            if !expired && order.len() < self.capacity {
                break;
            }
            if seen.get(old) == Some(at) {
                seen.remove(old);
            }
            order.pop_front();
        }
        if seen.contains_key(id) {
            return false;
        }
        seen.insert(id.to_string(), now);
        order.push_back((id.to_string(), now));
        true
    }

    /// Forgets `id` again (its payload could not be handed on, so the platform's retry must pass).
    pub fn release(&self, id: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.seen.remove(id);
    }

    /// How many ids are remembered now.
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).seen.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_once_within_a_bounded_window() {
        let r = RecentIds::new(2, None);
        assert!(r.claim("a"));
        assert!(!r.claim("a"));
        assert!(r.claim("b"));
        assert!(r.claim("c"));
        assert!(r.claim("a"), "forgotten after two newer ids");
        r.release("c");
        assert!(r.claim("c"));
        assert!(r.len() <= 2);
    }

    #[tokio::test(start_paused = true)]
    async fn forgets_once_no_copy_can_be_fresh() {
        let r = RecentIds::new(100, Some(Duration::from_secs(10)));
        assert!(r.claim("1"));
        tokio::time::advance(Duration::from_secs(9)).await;
        assert!(!r.claim("1"));
        assert!(r.claim("2"));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(r.claim("1"), "forgotten after the window");
        assert!(!r.claim("2"), "still inside its own window");
    }
}
