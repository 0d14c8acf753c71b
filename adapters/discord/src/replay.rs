//! Interaction ids already accepted, remembered for as long as a copy of their request could still pass the
//! freshness check, so a captured request replayed within the window is refused.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Ids remembered at most (a bound on memory if Discord — or an attacker with valid signatures — floods).
pub const DEFAULT_CAPACITY: usize = 100_000;

/// Recently accepted interaction ids.
#[derive(Debug)]
pub struct Replays {
    keep: Duration,
    capacity: usize,
    seen: HashMap<u64, Instant>,
    order: VecDeque<(u64, Instant)>,
}

impl Replays {
    /// Remembers ids for `keep` (twice the freshness window covers clock skew both ways).
    pub fn new(keep: Duration) -> Self {
        Self::with_capacity(keep, DEFAULT_CAPACITY)
    }

    /// Remembers at most `capacity` ids.
    pub fn with_capacity(keep: Duration, capacity: usize) -> Self {
        Self { keep, capacity: capacity.max(1), seen: HashMap::new(), order: VecDeque::new() }
    }

    /// Records `id` at `now`; false when it was already recorded (a replay).
    pub fn first_time(&mut self, id: u64, now: Instant) -> bool {
        while let Some(&(old, at)) = self.order.front() {
            if now.duration_since(at) <= self.keep && self.order.len() < self.capacity {
                break;
            }
            self.order.pop_front();
            if self.seen.get(&old) == Some(&at) {
                self.seen.remove(&old);
            }
        }
        if self.seen.contains_key(&id) {
            return false;
        }
        self.seen.insert(id, now);
        self.order.push_back((id, now));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_repeats_within_the_window_and_forgets_after() {
        let start = Instant::now();
        let mut r = Replays::new(Duration::from_secs(10));
        assert!(r.first_time(1, start));
        assert!(!r.first_time(1, start + Duration::from_secs(9)));
        assert!(r.first_time(2, start + Duration::from_secs(9)));
        assert!(r.first_time(1, start + Duration::from_secs(11)), "forgotten once no copy can be fresh");
    }

    #[test]
    fn is_bounded() {
        let now = Instant::now();
        let mut r = Replays::with_capacity(Duration::from_secs(60), 2);
        for id in 0..5 {
            assert!(r.first_time(id, now));
        }
        assert!(r.seen.len() <= 2);
    }
}
