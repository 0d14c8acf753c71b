//! Maps whose values expire a while after they were noted, pruned oldest first as new ones arrive, in time
//! proportional to what is pruned (a sweep of the whole map at every insert makes each one cost as much as
//! everything kept), and bounded.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::Duration;

use tokio::time::Instant;

/// Values that expire `ttl` after they were noted, at most `capacity` of them.
#[derive(Debug)]
pub struct Expiring<K, V> {
    /// Each key's value, and when it was noted.
    entries: HashMap<K, (V, Instant)>,
    /// The keys in the order they were noted, with when. A key noted again is here again; its older place is
    /// stale (its time is not the entry's) and is skipped when reached.
    order: VecDeque<(K, Instant)>,
    ttl: Duration,
    capacity: usize,
}

impl<K: Clone + Eq + Hash, V> Expiring<K, V> {
    /// A map whose values expire `ttl` after they were noted, holding at most `capacity` of them.
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self { entries: HashMap::new(), order: VecDeque::new(), ttl, capacity: capacity.max(1) }
    }

    /// Notes `value` under `key` at `now`, after forgetting, oldest first, what expired by then and what is
    /// over the capacity.
    pub fn note(&mut self, key: K, value: V, now: Instant) {
        while let Some((old, at)) = self.order.front() {
            if now.duration_since(*at) < self.ttl && self.entries.len() < self.capacity {
                break;
            }
            if self.entries.get(old).is_some_and(|(_, noted)| noted == at) {
                self.entries.remove(old);
            }
            self.order.pop_front();
        }
        // Keys noted again and again within their time to live leave stale places behind: dropped once they
        // are as many as the capacity (after at least that many notes, so each note pays for one).
        if self.order.len() >= 2 * self.capacity {
            let entries = &self.entries;
            self.order.retain(|(k, at)| entries.get(k).is_some_and(|(_, noted)| noted == at));
        }
        self.entries.insert(key.clone(), (value, now));
        self.order.push_back((key, now));
    }

    /// The value noted under `key`, and when (it may have expired since: callers check its age).
    pub fn get(&self, key: &K) -> Option<&(V, Instant)> {
        self.entries.get(key)
    }

    /// As [`Expiring::get`], to change the value in place.
    pub fn get_mut(&mut self, key: &K) -> Option<&mut (V, Instant)> {
        self.entries.get_mut(key)
    }

    /// Takes the value noted under `key` out.
    pub fn remove(&mut self, key: &K) -> Option<(V, Instant)> {
        self.entries.remove(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn expired_and_surplus_entries_go_oldest_first_and_a_key_noted_again_lives_from_its_last_note() {
        let mut map = Expiring::new(Duration::from_secs(10), 3);
        let now = Instant::now();
        map.note("a", 1, now);
        map.note("b", 2, now + Duration::from_secs(1));
        map.note("a", 3, now + Duration::from_secs(2)); // again: lives from here
        map.note("c", 4, now + Duration::from_secs(11)); // b's and a's first note are 10 s old or more
        assert_eq!(map.entries.keys().copied().collect::<std::collections::BTreeSet<_>>(), ["a", "c"].into());
        assert_eq!(map.entries["a"].0, 3);
        map.note("d", 5, now + Duration::from_secs(11));
        map.note("e", 6, now + Duration::from_secs(11)); // over the capacity: the oldest (a) goes
        assert_eq!(map.entries.keys().copied().collect::<std::collections::BTreeSet<_>>(), ["c", "d", "e"].into());
        assert!(map.entries.len() <= 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_key_noted_over_and_over_leaves_a_bounded_trail() {
        let mut map = Expiring::new(Duration::from_secs(3600), 4);
        let now = Instant::now();
        for n in 0..1_000u32 {
            map.note("same", n, now + Duration::from_millis(u64::from(n)));
            assert!(map.order.len() <= 8, "{} places kept after {n} notes", map.order.len());
        }
        assert_eq!(map.entries.len(), 1);
        assert_eq!(map.entries["same"].0, 999);
    }
}
