//! Pacing sends to a platform's limits with exact timers. Each limit ("20 per minute") is a sliding window
//! over the times of the last sends it covers. A send under every limit it falls under goes at once (and is
//! counted); one over a limit is told exactly how long until the oldest send leaves that window, sleeps that
//! long and asks again. No fixed tick, no polling, and in no window of `per` are there more than `count`
//! sends. Only sends that happen are counted, so a chat waiting for its own limit never holds up another.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

use crate::adapter::{SendPolicy, SendRate};
use crate::sweep::Sweep;

/// The times of the last `count` sends under one limit, oldest first.
#[derive(Clone, Debug, Default)]
struct Window {
    times: VecDeque<Instant>,
}

impl Window {
    /// The earliest moment at or after `now` this limit lets a send go.
    fn earliest(&self, rate: SendRate, now: Instant) -> Instant {
        match self.times.front() {
            Some(oldest) if self.times.len() >= rate.count.max(1) as usize => now.max(*oldest + rate.per),
            _ => now,
        }
    }

    /// Records a send at `at`.
    fn commit(&mut self, rate: SendRate, at: Instant) {
        self.times.push_back(at);
        while self.times.len() > rate.count.max(1) as usize {
            self.times.pop_front();
        }
    }

    /// True when no send it remembers still counts at `now`.
    fn idle(&self, rate: SendRate, now: Instant) -> bool {
        self.times.back().is_none_or(|last| *last + rate.per <= now)
    }
}

/// Where a send falls under the policy.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    /// The chat it lands in (as the scheduler can tell: a private reply from a group lands in the DM).
    pub chat: String,
    /// Whether that chat is a group or channel.
    pub group: bool,
}

/// How many chats' windows are kept before idle ones are first looked for.
const FORGET_FROM: usize = 10_000;

/// The windows of one platform.
#[derive(Debug)]
pub struct Pace {
    policy: SendPolicy,
    chats: HashMap<String, Vec<Window>>,
    groups: HashMap<String, Vec<Window>>,
    overall: Vec<Window>,
    /// When idle chats are next looked for.
    sweep: Sweep<FORGET_FROM>,
}

fn earliest(windows: &[Window], rates: &[SendRate], now: Instant) -> Instant {
    windows.iter().zip(rates).fold(now, |at, (w, r)| at.max(w.earliest(*r, now)))
}

fn commit(windows: &mut [Window], rates: &[SendRate], at: Instant) {
    for (w, r) in windows.iter_mut().zip(rates) {
        w.commit(*r, at);
    }
}

impl Pace {
    /// Windows for `policy`, all empty.
    pub fn new(policy: SendPolicy) -> Self {
        let overall = vec![Window::default(); policy.overall.len()];
        Self { policy, chats: HashMap::new(), groups: HashMap::new(), overall, sweep: Sweep::default() }
    }

    /// Whether the policy limits anything.
    pub fn is_unlimited(&self) -> bool {
        self.policy.per_chat.is_empty() && self.policy.per_group.is_empty() && self.policy.overall.is_empty()
    }

    /// Counts a send to `target` at `now` if every limit allows it (returns zero); otherwise returns how long
    /// until the limits allow it, counting nothing (ask again then).
    pub fn reserve(&mut self, target: &Target, now: Instant) -> Duration {
        if self.is_unlimited() {
            return Duration::ZERO;
        }
        self.forget_idle(now);
        let Self { policy, chats, groups, overall, .. } = self;
        let chat = chats.entry(target.chat.clone()).or_insert_with(|| vec![Window::default(); policy.per_chat.len()]);
        let mut at = earliest(chat, &policy.per_chat, now).max(earliest(overall, &policy.overall, now));
        let group = if target.group {
            let g =
                groups.entry(target.chat.clone()).or_insert_with(|| vec![Window::default(); policy.per_group.len()]);
            at = at.max(earliest(g, &policy.per_group, now));
            Some(g)
        } else {
            None
        };
        if at > now {
            return at - now;
        }
        commit(chat, &policy.per_chat, now);
        commit(overall, &policy.overall, now);
        if let Some(g) = group {
            commit(g, &policy.per_group, now);
        }
        Duration::ZERO
    }

    /// Drops the windows of chats whose sends no longer count (their state is exactly an empty window's), so
    /// the maps stay within twice the set of recently active chats (see [`Sweep`]).
    fn forget_idle(&mut self, now: Instant) {
        if !self.sweep.due(self.chats.len() + self.groups.len()) {
            return;
        }
        let (per_chat, per_group) = (&self.policy.per_chat, &self.policy.per_group);
        self.chats.retain(|_, ws| !ws.iter().zip(per_chat).all(|(w, r)| w.idle(*r, now)));
        self.groups.retain(|_, ws| !ws.iter().zip(per_group).all(|(w, r)| w.idle(*r, now)));
        self.sweep.done(self.chats.len() + self.groups.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn telegram() -> SendPolicy {
        SendPolicy {
            per_chat: vec![SendRate::new(1, Duration::from_secs(1)), SendRate::new(20, Duration::from_secs(60))],
            per_group: vec![SendRate::new(20, Duration::from_secs(60))],
            overall: vec![SendRate::new(30, Duration::from_secs(1))],
        }
    }

    fn chat(id: &str) -> Target {
        Target { chat: id.into(), group: false }
    }

    /// When each of `sends` goes, each waiting as told (as a lane does), sends taken in turn.
    fn schedule(pace: &mut Pace, sends: &[Target]) -> Vec<Duration> {
        let start = Instant::now();
        let mut now = start;
        let mut out = Vec::new();
        for target in sends {
            loop {
                let wait = pace.reserve(target, now);
                if wait.is_zero() {
                    break;
                }
                now += wait;
            }
            out.push(now - start);
        }
        out
    }

    #[tokio::test(start_paused = true)]
    async fn a_send_under_its_limits_goes_at_once_and_one_over_waits_exactly() {
        let mut pace = Pace::new(telegram());
        let now = Instant::now();
        assert_eq!(pace.reserve(&chat("1"), now), Duration::ZERO);
        assert_eq!(pace.reserve(&chat("1"), now), Duration::from_secs(1), "one per second in a chat");
        assert_eq!(pace.reserve(&chat("1"), now), Duration::from_secs(1), "nothing is counted while waiting");
        assert_eq!(pace.reserve(&chat("2"), now), Duration::ZERO, "other chats are not held up");
        assert_eq!(pace.reserve(&chat("1"), now + Duration::from_secs(1)), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn the_overall_limit_spreads_a_burst_over_many_chats() {
        let mut pace = Pace::new(telegram());
        let sends: Vec<Target> = (0..200).map(|i| chat(&i.to_string())).collect();
        let at = schedule(&mut pace, &sends);
        assert!(at[..30].iter().all(|w| w.is_zero()), "a burst of 30 goes at once");
        // 30 in any second: the 200th send goes 6 s later (bursts of 30 at 0, 1, … 6 s), never sooner.
        assert_eq!(at[30], Duration::from_secs(1));
        assert_eq!(*at.last().unwrap_or(&Duration::ZERO), Duration::from_secs(6));
        for (i, t) in at.iter().enumerate() {
            let in_window = at.iter().filter(|u| **u <= *t && *t - **u < Duration::from_secs(1)).count();
            assert!(in_window <= 30, "send {i}: {in_window} in one second");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_group_keeps_its_per_minute_limit() {
        let mut pace = Pace::new(telegram());
        let group = Target { chat: "-100".into(), group: true };
        let at = schedule(&mut pace, &vec![group.clone(); 21]);
        // 1/s per chat keeps the first 20 a second apart; the 21st is held by 20/min as well.
        assert_eq!(at[19], Duration::from_secs(19));
        assert_eq!(at[20], Duration::from_secs(60));
        assert!(Pace::new(SendPolicy::default()).reserve(&group, Instant::now()).is_zero(), "no policy, no wait");
    }

    #[tokio::test(start_paused = true)]
    async fn idle_chats_are_forgotten_and_looked_for_only_when_the_maps_have_doubled() {
        let per_minute = SendRate::new(20, Duration::from_secs(60));
        let mut pace = Pace::new(SendPolicy { per_chat: vec![per_minute], ..SendPolicy::default() });
        let start = Instant::now();
        // Sends to 10 000 chats: all of them count for a minute.
        for i in 0..FORGET_FROM {
            assert!(pace.reserve(&chat(&i.to_string()), start).is_zero());
        }
        assert!(pace.reserve(&chat("x"), start + Duration::from_secs(30)).is_zero());
        // The look found none idle: the next comes only at twice as many.
        assert!(!pace.sweep.due(2 * FORGET_FROM - 1) && pace.sweep.due(2 * FORGET_FROM));
        assert_eq!(pace.chats.len(), FORGET_FROM + 1);
        // An hour later those chats are idle; sends to as many others, and the look that comes once the maps
        // have doubled drops every idle one.
        let later = start + Duration::from_secs(3600);
        for i in 0..FORGET_FROM {
            assert!(pace.reserve(&chat(&format!("y{i}")), later).is_zero());
            assert!(pace.chats.len() <= 2 * FORGET_FROM, "bounded by twice what the last look left");
        }
        assert!(pace.chats.keys().all(|k| k.starts_with('y')), "the idle chats were forgotten");
        assert_eq!(pace.chats.len(), FORGET_FROM);
        assert!(pace.sweep.due(2 * (FORGET_FROM - 1)) && !pace.sweep.due(2 * FORGET_FROM - 3), "twice what it left");
    }
}
