//! Rate limits: token buckets per user, per conversation and overall, applied at intake — before an event
//! is journaled or queued, so a flood costs almost nothing and never delays anyone else. A limited user gets
//! one polite notice, then silence until their bucket refills; every refusal is counted in the metrics.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::time::Instant;

use crate::config::{Rate, RateLimitSettings};
use crate::event::{ConversationKey, UserRef};

/// What a limited user is told, once.
pub const SLOW_DOWN: &str = "You are sending messages faster than I can answer. Please wait a moment.";

/// A token bucket.
#[derive(Debug, Clone)]
struct Bucket {
    tokens: f64,
    last: Instant,
    notified: bool,
}

impl Bucket {
    fn full(rate: Rate) -> Self {
        Self { tokens: f64::from(rate.count), last: Instant::now(), notified: false }
    }

    fn refill(&mut self, rate: Rate) {
        let now = Instant::now();
        let per_sec = f64::from(rate.count) / rate.per.as_secs_f64();
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * per_sec).min(f64::from(rate.count));
        self.last = now;
    }
}

/// Whether an event may pass, and if not, whether to tell the user (and which limit refused it).
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Under every limit.
    Pass,
    /// Over a limit for the first time since it last passed: tell the user.
    Notify(&'static str),
    /// Over a limit again: drop quietly.
    Silent(&'static str),
}

#[derive(Default)]
struct Buckets {
    users: HashMap<UserRef, Bucket>,
    conversations: HashMap<ConversationKey, Bucket>,
    global: Option<Bucket>,
}

/// The shared limiter state.
pub struct Limiter {
    // std RwLock: copied once per event, replaced by a reload; never held across an await.
    settings: std::sync::RwLock<RateLimitSettings>,
    // std Mutex: a few float operations per event, never held across an await.
    buckets: Mutex<Buckets>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl Limiter {
    /// A limiter with `settings` (a zero count turns that limit off).
    pub fn new(settings: RateLimitSettings) -> Arc<Self> {
        Arc::new(Self { settings: std::sync::RwLock::new(settings), buckets: Mutex::default() })
    }

    /// Replaces the limits (a reload). Buckets keep their tokens and refill at the new rates.
    pub fn set_settings(&self, settings: RateLimitSettings) {
        *self.settings.write().unwrap_or_else(PoisonError::into_inner) = settings;
    }

    /// Takes one token from each bucket `user` in `conv` falls under, or says which limit refused.
    pub fn check(&self, user: &UserRef, conv: &ConversationKey) -> Verdict {
        let settings = *self.settings.read().unwrap_or_else(PoisonError::into_inner);
        let s = &settings;
        let mut b = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        // Forget buckets that have refilled completely (idle for a whole period), so the maps cannot grow
        // without bound; a forgotten bucket is recreated full, which is exactly its state.
        if b.users.len() > 100_000 {
            b.users.retain(|_, k| k.last.elapsed() < s.per_user.per);
        }
        if b.conversations.len() > 100_000 {
            b.conversations.retain(|_, k| k.last.elapsed() < s.per_conversation.per);
        }
        let mut checks: Vec<(&'static str, Rate, &mut Bucket)> = Vec::new();
        let Buckets { users, conversations, global } = &mut *b;
        if s.global.count > 0 {
            checks.push(("global", s.global, global.get_or_insert_with(|| Bucket::full(s.global))));
        }
        if s.per_user.count > 0 {
            checks.push(("user", s.per_user, users.entry(user.clone()).or_insert_with(|| Bucket::full(s.per_user))));
        }
        if s.per_conversation.count > 0 {
            let bucket = conversations.entry(conv.clone()).or_insert_with(|| Bucket::full(s.per_conversation));
            checks.push(("conversation", s.per_conversation, bucket));
        }
        for (_, rate, bucket) in &mut checks {
            bucket.refill(*rate);
        }
        if let Some((scope, _, bucket)) = checks.iter_mut().find(|(_, _, bucket)| bucket.tokens < 1.0) {
            let first = !bucket.notified;
            bucket.notified = true;
            return if first { Verdict::Notify(scope) } else { Verdict::Silent(scope) };
        }
        for (_, _, bucket) in &mut checks {
            bucket.tokens -= 1.0;
            bucket.notified = false;
        }
        Verdict::Pass
    }
}
