//! A bounded set of recently seen update ids, so a webhook delivery Telegram repeats is handled once.

use std::collections::{HashSet, VecDeque};

/// How many update ids are remembered by default; Telegram retries a delivery within minutes, not thousands
/// of updates later.
pub const DEFAULT_CAPACITY: usize = 4096;

/// The most recent update ids, oldest forgotten first.
#[derive(Debug)]
pub struct RecentIds {
    capacity: usize,
    seen: HashSet<u32>,
    order: VecDeque<u32>,
}

impl Default for RecentIds {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl RecentIds {
    /// A set remembering at most `capacity` ids.
    pub fn with_capacity(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), seen: HashSet::new(), order: VecDeque::new() }
    }

    /// True when `id` was recorded and not yet forgotten.
    pub fn contains(&self, id: u32) -> bool {
        self.seen.contains(&id)
    }

    /// Records `id` as handled.
    pub fn insert(&mut self, id: u32) {
        if !self.seen.insert(id) {
            return;
        }
        self.order.push_back(id);
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_a_bounded_window() {
        let mut r = RecentIds::with_capacity(2);
        r.insert(1);
        r.insert(1);
        r.insert(2);
        assert!(r.contains(1) && r.contains(2));
        r.insert(3);
        assert!(!r.contains(1) && r.contains(2) && r.contains(3));
    }
}
