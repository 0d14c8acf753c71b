//! When to sweep a map of entries that go stale: once it has doubled since the last sweep, and never below a
//! floor.
//!
//! A map swept whenever it holds more than a fixed number of entries is swept on every insert once more
//! entries than that are live, each sweep as long as the map: every event then costs as much as the number
//! of people (or chats) active at once. With the doubling, a sweep comes only after as many inserts as the
//! entries it left, so each insert pays a constant share of it, and the map stays within twice its live
//! entries (or the floor).

use std::collections::HashMap;

/// When the next sweep of one map is due; `FLOOR`: the size below which it is never swept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sweep<const FLOOR: usize> {
    next: usize,
}

impl<const FLOOR: usize> Default for Sweep<FLOOR> {
    fn default() -> Self {
        Self { next: FLOOR }
    }
}

impl<const FLOOR: usize> Sweep<FLOOR> {
    /// Whether a map of `len` entries is to be swept now.
    pub(crate) fn due(&self, len: usize) -> bool {
        len >= self.next
    }

    /// Notes a sweep that left `len` entries: the next comes at twice as many.
    pub(crate) fn done(&mut self, len: usize) {
        self.next = len.saturating_mul(2).max(FLOOR);
    }

    /// Sweeps `map`, keeping what `keep` says is live, if a sweep is due (the usual case: one map per sweep).
    pub(crate) fn retain<K, V>(&mut self, map: &mut HashMap<K, V>, keep: impl FnMut(&K, &mut V) -> bool) {
        if self.due(map.len()) {
            map.retain(keep);
            self.done(map.len());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_comes_at_the_floor_then_at_twice_what_the_last_one_left() {
        let mut sweep = Sweep::<100>::default();
        assert!(!sweep.due(99));
        assert!(sweep.due(100));
        sweep.done(100); // nothing was stale
        assert!(!sweep.due(199), "not again until the map has doubled");
        assert!(sweep.due(200));
        sweep.done(3); // nearly everything was stale
        assert!(!sweep.due(99), "never below the floor");
        assert!(sweep.due(100));
        sweep.done(usize::MAX);
        assert!(!sweep.due(usize::MAX - 1), "no overflow");
    }

    /// The point of it: a map whose entries all stay live is swept a logarithmic number of times, not once
    /// per insert.
    #[test]
    fn a_map_of_live_entries_is_swept_seldom() {
        let mut sweep = Sweep::<1_000>::default();
        let (mut len, mut sweeps) = (0usize, 0);
        for _ in 0..1_000_000 {
            if sweep.due(len) {
                sweeps += 1;
                sweep.done(len);
            }
            len += 1;
        }
        assert_eq!(sweeps, 10, "at 1 000, 2 000, … 512 000 entries");
    }
}
