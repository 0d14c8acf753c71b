//! Rate limits: token buckets per user, per conversation and overall, applied at intake — before an event
//! is journaled or queued, so a flood costs almost nothing and never delays anyone else. A limited user gets
//! one polite notice, then silence until their bucket refills; every refusal is counted in the metrics.
//!
//! Replicas sharing a store keep each person's buckets there (`core.ratelimit`, one record per person,
//! changed with a compare-and-set), so a person gets the configured rate across all replicas together and
//! is told once. The overall limit protects each process and stays per replica.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::clock::SharedClock;
use crate::config::{Rate, RateLimitSettings};
use crate::event::{ConversationKey, UserRef};
use crate::store::{Durability, RecordKey, SharedStore, StoreError, Subject};
use crate::sweep::Sweep;

/// Where replicas keep people's buckets.
pub const NAMESPACE: &str = "core.ratelimit";

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
        self.tokens = refilled(self.tokens, now.duration_since(self.last).as_secs_f64(), rate);
        self.last = now;
    }
}

/// `tokens` after `secs` of refilling at `rate`, at most a full bucket.
fn refilled(tokens: f64, secs: f64, rate: Rate) -> f64 {
    let per_sec = f64::from(rate.count) / rate.per.as_secs_f64();
    (tokens + secs * per_sec).min(f64::from(rate.count))
}

/// A bucket kept in a shared store: the time is the wall clock's (replicas share no monotonic clock).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct StoredBucket {
    tokens: f64,
    at_ms: u64,
    notified: bool,
}

impl StoredBucket {
    fn full(rate: Rate, now_ms: u64) -> Self {
        Self { tokens: f64::from(rate.count), at_ms: now_ms, notified: false }
    }

    fn refill(&mut self, rate: Rate, now_ms: u64) {
        #[allow(clippy::cast_precision_loss)] // milliseconds well within f64's exact range
        let secs = now_ms.saturating_sub(self.at_ms) as f64 / 1000.0;
        self.tokens = refilled(self.tokens, secs, rate);
        self.at_ms = now_ms.max(self.at_ms);
    }
}

/// One person's buckets in a shared store: across chats, and per chat.
#[derive(Debug, Default, Serialize, Deserialize)]
struct StoredBuckets {
    user: Option<StoredBucket>,
    chats: BTreeMap<String, StoredBucket>,
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
    /// When full buckets are next forgotten, from each map.
    sweeps: (Sweep<FORGET_FROM>, Sweep<FORGET_FROM>),
}

/// How many buckets of one kind are kept before full ones are first forgotten.
const FORGET_FROM: usize = 100_000;

/// The shared limiter state.
pub struct Limiter {
    // std RwLock: copied once per event, replaced by a reload; never held across an await.
    settings: std::sync::RwLock<RateLimitSettings>,
    // std Mutex: a few float operations per event, never held across an await.
    buckets: Mutex<Buckets>,
    /// With replicas on one store: where people's buckets are kept.
    shared: std::sync::OnceLock<(SharedStore, SharedClock)>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl Limiter {
    /// A limiter with `settings` (a zero count turns that limit off).
    pub fn new(settings: RateLimitSettings) -> Arc<Self> {
        Arc::new(Self {
            settings: std::sync::RwLock::new(settings),
            buckets: Mutex::default(),
            shared: std::sync::OnceLock::new(),
        })
    }

    /// Keeps people's buckets in `store`, which other replicas share (set once, when the dispatcher is built).
    pub fn share(&self, store: SharedStore, clock: SharedClock) {
        let _ = self.shared.set((store, clock));
    }

    /// Replaces the limits (a reload). Buckets keep their tokens and refill at the new rates.
    pub fn set_settings(&self, settings: RateLimitSettings) {
        *self.settings.write().unwrap_or_else(PoisonError::into_inner) = settings;
    }

    /// Takes one token from each bucket `user` in `conv` falls under, or says which limit refused.
    pub async fn check(&self, user: &UserRef, conv: &ConversationKey) -> Verdict {
        let Some((store, clock)) = self.shared.get() else { return self.check_here(user, conv, true) };
        let settings = *self.settings.read().unwrap_or_else(PoisonError::into_inner);
        // The overall limit is this process's; its token goes back if the person's limits refuse.
        let here = self.check_here(user, conv, false);
        if here != Verdict::Pass {
            return here;
        }
        match check_stored(&**store, clock.now_ms(), &settings, user, conv).await {
            Ok(Verdict::Pass) => Verdict::Pass,
            Ok(refused) => {
                let mut b = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(global) = &mut b.global {
                    global.tokens = (global.tokens + 1.0).min(f64::from(settings.global.count));
                }
                refused
            }
            Err(error) => {
                // Not a reason to drop people's messages: the journal stops them if the store is really gone.
                tracing::warn!(%error, "could not read a person's rate limits from the shared store; letting it pass");
                Verdict::Pass
            }
        }
    }

    /// The buckets in this process: all of them, or (`all` false, when the person's are shared) the
    /// overall one only.
    fn check_here(&self, user: &UserRef, conv: &ConversationKey, all: bool) -> Verdict {
        let mut settings = *self.settings.read().unwrap_or_else(PoisonError::into_inner);
        if !all {
            settings.per_user.count = 0;
            settings.per_conversation.count = 0;
        }
        let s = &settings;
        let mut b = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        // Forget buckets that have refilled completely (idle for a whole period), so the maps cannot grow
        // without bound; a forgotten bucket is recreated full, which is exactly its state.
        let Buckets { users, conversations, global, sweeps } = &mut *b;
        sweeps.0.retain(users, |_, k| k.last.elapsed() < s.per_user.per);
        sweeps.1.retain(conversations, |_, k| k.last.elapsed() < s.per_conversation.per);
        let mut checks: Vec<(&'static str, Rate, &mut Bucket)> = Vec::new();
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

/// Takes one token from the person's buckets kept in `store` (across chats, and in `conv`'s chat), or says
/// which limit refused; retried until the compare-and-set holds.
async fn check_stored(
    store: &dyn palisade_core::Store,
    now_ms: u64,
    s: &RateLimitSettings,
    user: &UserRef,
    conv: &ConversationKey,
) -> Result<Verdict, StoreError> {
    if s.per_user.count == 0 && s.per_conversation.count == 0 {
        return Ok(Verdict::Pass);
    }
    let subject = Subject::user(user);
    let key = RecordKey { namespace: NAMESPACE, subject: Some(&subject), id: b"buckets" };
    let chat = format!("{}\n{}", conv.user, conv.chat_id);
    loop {
        let current = store.get(key).await?;
        let mut held: StoredBuckets =
            current.as_ref().and_then(|r| serde_json::from_slice(&r.value).ok()).unwrap_or_default();
        // Buckets idle for a whole period are full again: forgotten, so the record stays small.
        let per = crate::clock::millis(s.per_conversation.per);
        held.chats.retain(|_, b| now_ms.saturating_sub(b.at_ms) < per);
        let mut checks: Vec<(&'static str, Rate, &mut StoredBucket)> = Vec::new();
        if s.per_user.count > 0 {
            checks.push(("user", s.per_user, held.user.get_or_insert_with(|| StoredBucket::full(s.per_user, now_ms))));
        }
        if s.per_conversation.count > 0 {
            let bucket =
                held.chats.entry(chat.clone()).or_insert_with(|| StoredBucket::full(s.per_conversation, now_ms));
            checks.push(("conversation", s.per_conversation, bucket));
        }
        for (_, rate, bucket) in &mut checks {
            bucket.refill(*rate, now_ms);
        }
        let verdict = if let Some((scope, _, bucket)) = checks.iter_mut().find(|(_, _, b)| b.tokens < 1.0) {
            let first = !bucket.notified;
            bucket.notified = true;
            if first { Verdict::Notify(scope) } else { Verdict::Silent(scope) }
        } else {
            for (_, _, bucket) in &mut checks {
                bucket.tokens -= 1.0;
                bucket.notified = false;
            }
            Verdict::Pass
        };
        let value = serde_json::to_vec(&held)
            .map_err(|e| StoreError::Codec { namespace: NAMESPACE.into(), reason: e.to_string() })?;
        if store.swap(key, current.as_ref(), Some(&value), Durability::Batched).await? {
            return Ok(verdict);
        }
    }
}
