//! Retrying platform API calls: wait as long as a rate limit asks, back off exponentially on transient
//! failures, give up after a bound. Each adapter only says which of its errors are which ([`Retry`]).

use std::future::Future;
use std::time::Duration;

/// What to do about one failed call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Rate limited: wait this long (the platform's `Retry-After`), then try again.
    After(Duration),
    /// A transient failure (network, 5xx): back off and try again.
    Backoff,
    /// A final answer (bad request, forbidden): do not retry.
    Never,
}

/// How often and how long to retry one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Most attempts in total, the first included.
    pub attempts: u32,
    /// Wait before the first retry after a transient failure; doubles each time.
    pub first: Duration,
    /// Longest wait between transient retries.
    pub max: Duration,
    /// Longest rate-limit wait honoured; a longer one is reported as a failure instead of blocking the chat.
    pub max_retry_after: Duration,
    /// The platform, for counting its 429s (`palisade_send_throttled_total{platform}`).
    pub platform: Option<palisade_core::Platform>,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            attempts: 5,
            first: Duration::from_millis(500),
            max: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(120),
            platform: None,
        }
    }
}

impl Backoff {
    /// Counts this platform's rate-limit answers.
    #[must_use]
    pub fn for_platform(mut self, platform: palisade_core::Platform) -> Self {
        self.platform = Some(platform);
        self
    }

    /// The wait after failed attempt number `attempt` (1-based) classified as `retry`, or `None` to give up.
    pub fn wait(&self, attempt: u32, retry: Retry) -> Option<Duration> {
        if attempt >= self.attempts {
            return None;
        }
        match retry {
            Retry::After(d) => Some(d).filter(|d| *d <= self.max_retry_after),
            Retry::Backoff => Some(self.network(attempt)),
            Retry::Never => None,
        }
    }

    /// The wait after the `attempt`-th consecutive transient failure.
    pub fn network(&self, attempt: u32) -> Duration {
        self.first.saturating_mul(1 << attempt.saturating_sub(1).min(16)).min(self.max)
    }

    /// Runs `call` until it succeeds, fails for good, or the attempts run out. `op` names the request in
    /// logs; `describe` must render errors without tokens.
    pub async fn run<T, E, F, Fut>(
        &self,
        op: &'static str,
        classify: impl Fn(&E) -> Retry,
        describe: impl Fn(&E) -> String,
        mut call: F,
    ) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut attempt = 1;
        loop {
            let error = match call().await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let retry = classify(&error);
            if let (Retry::After(_), Some(platform)) = (retry, self.platform) {
                metrics::counter!("palisade_send_throttled_total", "platform" => platform.as_str()).increment(1);
            }
            let Some(wait) = self.wait(attempt, retry) else { return Err(error) };
            let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
            tracing::warn!(op, attempt, wait_ms, error = %describe(&error), "platform request failed; retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_follow_the_classification_and_the_bounds() {
        let b = Backoff::default();
        assert_eq!(b.wait(1, Retry::After(Duration::from_secs(7))), Some(Duration::from_secs(7)));
        assert_eq!(b.wait(1, Retry::After(Duration::from_secs(3600))), None);
        assert_eq!(b.wait(5, Retry::Backoff), None, "attempts exhausted");
        assert_eq!(b.wait(1, Retry::Never), None);
        assert_eq!(b.wait(3, Retry::Backoff), Some(Duration::from_secs(2)));
        assert_eq!(b.network(30), Duration::from_secs(8));
    }
}
