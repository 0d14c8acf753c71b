//! What the latest interactions left behind for the replies to use: a `trigger_id` (Slack lets it open a
//! modal for three seconds) per user, and a `response_url` (good for five posts in thirty minutes, even in a
//! channel the bot is not a member of) per user and channel.
//!
//! Both are kept in an [`Expiring`] map: noting one prunes what expired, oldest first (a sweep of the whole
//! map on every interaction made each one cost as much as the number of people who interacted in the last
//! half hour), and at most [`CAPACITY`] are kept.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use palisade_adapter_kit::Expiring;
use palisade_core::UserRef;
use tokio::time::Instant;

/// How long a trigger is used after it arrived: under Slack's three seconds, leaving time for the request.
pub const TRIGGER_TTL: Duration = Duration::from_millis(2500);
/// How long a response URL is used after it arrived (Slack: 30 minutes).
pub const RESPONSE_URL_TTL: Duration = Duration::from_secs(29 * 60);
/// How many posts a response URL takes (Slack: 5).
pub const RESPONSE_URL_USES: u8 = 5;
/// Most triggers, and most response URLs, kept at once (the oldest go first): a bound on memory whatever the
/// rate of interactions.
pub const CAPACITY: usize = 100_000;

/// Recent triggers and response URLs; entries expire and are pruned as new ones arrive.
#[derive(Debug)]
pub struct Recent {
    // A std Mutex: a few map operations, never held across an await.
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// By user id: the trigger.
    triggers: Expiring<String, String>,
    /// By user id and channel: the URL and how often it was used.
    responses: Expiring<(String, String), (String, u8)>,
}

impl Default for Recent {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner {
                triggers: Expiring::new(TRIGGER_TTL, CAPACITY),
                responses: Expiring::new(RESPONSE_URL_TTL, CAPACITY),
            }),
        }
    }
}

impl Recent {
    /// Remembers `trigger` as `user`'s latest.
    pub fn note_trigger(&self, user: &UserRef, trigger: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.triggers.note(user.id.clone(), trigger.to_string(), Instant::now());
    }

    /// `user`'s latest trigger if it is still fresh; it is used up.
    pub fn take_trigger(&self, user: &UserRef) -> Option<String> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let (trigger, at) = inner.triggers.remove(&user.id)?;
        (at.elapsed() < TRIGGER_TTL).then_some(trigger)
    }

    /// Remembers `url` for replies to `user` in `channel`.
    pub fn note_response_url(&self, user: &UserRef, channel: &str, url: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.responses.note((user.id.clone(), channel.to_string()), (url.to_string(), 0), Instant::now());
    }

    /// A response URL for `user` in `channel` if one is fresh and has uses left; counts one use.
    pub fn use_response_url(&self, user: &UserRef, channel: &str) -> Option<String> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (user.id.clone(), channel.to_string());
        let ((url, uses), at) = inner.responses.get_mut(&key)?;
        if at.elapsed() >= RESPONSE_URL_TTL || *uses >= RESPONSE_URL_USES {
            inner.responses.remove(&key);
            return None;
        }
        *uses += 1;
        Some(url.clone())
    }
}

#[cfg(test)]
mod tests {
    use palisade_core::Platform;

    use super::*;

    fn ann() -> UserRef {
        UserRef::new(Platform::SLACK, "T1/U1")
    }

    #[tokio::test(start_paused = true)]
    async fn triggers_are_fresh_and_used_once() {
        let recent = Recent::default();
        recent.note_trigger(&ann(), "t1");
        assert_eq!(recent.take_trigger(&ann()).as_deref(), Some("t1"));
        assert_eq!(recent.take_trigger(&ann()), None);
        recent.note_trigger(&ann(), "t2");
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(recent.take_trigger(&ann()), None, "expired");
    }

    #[tokio::test(start_paused = true)]
    async fn response_urls_have_five_uses_in_their_half_hour() {
        let recent = Recent::default();
        recent.note_response_url(&ann(), "C1", "https://hooks.slack.com/x");
        assert_eq!(recent.use_response_url(&ann(), "C2"), None);
        for _ in 0..5 {
            assert!(recent.use_response_url(&ann(), "C1").is_some());
        }
        assert_eq!(recent.use_response_url(&ann(), "C1"), None);
        recent.note_response_url(&ann(), "C1", "https://hooks.slack.com/y");
        tokio::time::advance(RESPONSE_URL_TTL).await;
        assert_eq!(recent.use_response_url(&ann(), "C1"), None);
    }
}
