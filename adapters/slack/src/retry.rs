//! Retrying Web API calls: wait as long as a 429's `Retry-After` asks, back off on network errors and 5xx
//! answers, give up after a bound. (Pacing to Slack's per-method tiers, so that 429s stay rare, is
//! slack-morphism's rate controller, switched on by `rate_tiers`.)

use std::future::Future;
use std::time::Duration;

use slack_morphism::errors::SlackClientError;

/// How often and how long to retry one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Most attempts in total, the first included.
    pub attempts: u32,
    /// Wait before the first retry after a network error; doubles each time.
    pub first: Duration,
    /// Longest wait between network retries.
    pub max: Duration,
    /// Longest `Retry-After` honoured; a longer one is reported as a failure instead of blocking the chat.
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
    pub fn wait(&self, attempt: u32, error: &SlackClientError) -> Option<Duration> {
        if attempt >= self.attempts {
            return None;
        }
        match error {
            // Slack always sends Retry-After with a 429; one second is the floor if a proxy dropped it.
            SlackClientError::RateLimitError(e) => {
                Some(e.retry_after.unwrap_or(Duration::from_secs(1))).filter(|d| *d <= self.max_retry_after)
            }
            SlackClientError::HttpError(e) if e.status_code.is_server_error() => Some(self.network(attempt)),
            SlackClientError::HttpProtocolError(_) | SlackClientError::EndOfStream(_) => Some(self.network(attempt)),
            _ => None,
        }
    }

    /// The wait after the `attempt`-th consecutive network failure.
    pub fn network(&self, attempt: u32) -> Duration {
        self.first.saturating_mul(1 << attempt.saturating_sub(1).min(16)).min(self.max)
    }

    /// Runs `call` until it succeeds, fails for good, or the attempts run out. `op` names the Web API method
    /// in logs; errors are logged only through [`crate::api::describe`].
    pub async fn run<T, F, Fut>(&self, op: &'static str, mut call: F) -> Result<T, SlackClientError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SlackClientError>>,
    {
        let mut attempt = 1;
        loop {
            let error = match call().await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let Some(wait) = self.wait(attempt, &error) else { return Err(error) };
            let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
            let error = crate::api::describe(&error);
            tracing::warn!(op, attempt, wait_ms, %error, "Slack request failed; retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use slack_morphism::errors::{SlackClientApiError, SlackClientHttpError, SlackRateLimitError};

    use super::*;

    fn limited(secs: Option<u64>) -> SlackClientError {
        SlackClientError::RateLimitError(SlackRateLimitError::new().opt_retry_after(secs.map(Duration::from_secs)))
    }

    #[test]
    fn waits_follow_the_error() {
        let b = Backoff::default();
        assert_eq!(b.wait(1, &limited(Some(7))), Some(Duration::from_secs(7)));
        assert_eq!(b.wait(1, &limited(None)), Some(Duration::from_secs(1)));
        assert_eq!(b.wait(1, &limited(Some(3600))), None, "too long: report instead of blocking");
        assert_eq!(b.wait(5, &limited(Some(1))), None, "attempts exhausted");
        let api = SlackClientError::ApiError(SlackClientApiError::new("channel_not_found".into()));
        assert_eq!(b.wait(1, &api), None);
        let bad_gateway = SlackClientError::HttpError(SlackClientHttpError::new(http_status(502)));
        assert_eq!(b.wait(2, &bad_gateway), Some(Duration::from_secs(1)));
        let not_found = SlackClientError::HttpError(SlackClientHttpError::new(http_status(404)));
        assert_eq!(b.wait(1, &not_found), None);
        assert_eq!(b.network(30), Duration::from_secs(8));
    }

    fn http_status(code: u16) -> axum::http::StatusCode {
        axum::http::StatusCode::from_u16(code).unwrap_or_default()
    }

    #[tokio::test(start_paused = true)]
    async fn honours_retry_after_then_succeeds() {
        let calls = AtomicU32::new(0);
        let started = tokio::time::Instant::now();
        let out = Backoff::default()
            .run("chat.postMessage", || async {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 { Err(limited(Some(2))) } else { Ok(5) }
            })
            .await;
        assert_eq!(out.ok(), Some(5));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert!(started.elapsed() >= Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_the_bound() {
        let calls = AtomicU32::new(0);
        let out: Result<(), _> = Backoff::default()
            .run("chat.postMessage", || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(limited(Some(1)))
            })
            .await;
        assert!(matches!(out, Err(SlackClientError::RateLimitError(_))));
        assert_eq!(calls.load(Ordering::SeqCst), 5);
    }
}
