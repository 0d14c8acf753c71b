//! Retrying Bot API calls: wait as long as a 429 asks, back off on network errors, give up after a bound.

use std::future::Future;
use std::time::Duration;

use teloxide::RequestError;

/// How often and how long to retry one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Most attempts in total, the first included.
    pub attempts: u32,
    /// Wait before the first retry after a network error; doubles each time.
    pub first: Duration,
    /// Longest wait between network retries.
    pub max: Duration,
    /// Longest `retry_after` honoured; a longer one is reported as a failure instead of blocking the chat.
    pub max_retry_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            attempts: 5,
            first: Duration::from_millis(500),
            max: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl Backoff {
    /// The wait after failed attempt number `attempt` (1-based) with `error`, or `None` to give up.
    pub fn wait(&self, attempt: u32, error: &RequestError) -> Option<Duration> {
        if attempt >= self.attempts {
            return None;
        }
        match error {
            RequestError::RetryAfter(s) => Some(s.duration()).filter(|d| *d <= self.max_retry_after),
            RequestError::Network(_) => Some(self.network(attempt)),
            _ => None,
        }
    }

    /// The wait after the `attempt`-th consecutive network failure.
    pub fn network(&self, attempt: u32) -> Duration {
        self.first.saturating_mul(1 << attempt.saturating_sub(1).min(16)).min(self.max)
    }

    /// Runs `call` until it succeeds, fails for good, or the attempts run out. `op` names the request in
    /// logs; `describe` renders errors safely (see [`crate::redact::describe`]).
    pub async fn run<T, F, Fut>(
        &self,
        op: &'static str,
        describe: impl Fn(&RequestError) -> String,
        mut call: F,
    ) -> Result<T, RequestError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, RequestError>>,
    {
        let mut attempt = 1;
        loop {
            let error = match call().await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let Some(wait) = self.wait(attempt, &error) else { return Err(error) };
            let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
            tracing::warn!(op, attempt, wait_ms, error = %describe(&error), "Telegram request failed; retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use teloxide::types::Seconds;

    use super::*;

    fn flood(secs: u32) -> RequestError {
        RequestError::RetryAfter(Seconds::from_seconds(secs))
    }

    #[test]
    fn waits_follow_the_error() {
        let b = Backoff::default();
        assert_eq!(b.wait(1, &flood(7)), Some(Duration::from_secs(7)));
        assert_eq!(b.wait(1, &flood(3600)), None, "too long: report instead of blocking");
        assert_eq!(b.wait(5, &flood(1)), None, "attempts exhausted");
        assert_eq!(b.wait(1, &RequestError::Api(teloxide::ApiError::BotBlocked)), None);
        assert_eq!(b.network(1), Duration::from_millis(500));
        assert_eq!(b.network(3), Duration::from_secs(2));
        assert_eq!(b.network(30), Duration::from_secs(8));
    }

    #[tokio::test(start_paused = true)]
    async fn retries_after_flood_control_then_succeeds() {
        let calls = AtomicU32::new(0);
        let started = tokio::time::Instant::now();
        let out = Backoff::default()
            .run(
                "test",
                |e| e.to_string(),
                || async { if calls.fetch_add(1, Ordering::SeqCst) == 0 { Err(flood(2)) } else { Ok(5) } },
            )
            .await;
        assert_eq!(out.ok(), Some(5));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert!(started.elapsed() >= Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_the_bound() {
        let calls = AtomicU32::new(0);
        let out: Result<(), _> = Backoff::default()
            .run(
                "test",
                |e| e.to_string(),
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err(flood(1))
                },
            )
            .await;
        assert!(matches!(out, Err(RequestError::RetryAfter(_))));
        assert_eq!(calls.load(Ordering::SeqCst), 5);
    }
}
