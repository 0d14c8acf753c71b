//! Retrying Bot API calls: wait as long as a 429 asks, back off on network errors, give up after a bound.

use palisade_adapter_kit::retry::Retry;
use teloxide::RequestError as Error;

/// Which Bot API errors are worth another try.
pub fn classify(error: &Error) -> Retry {
    match error {
        Error::RetryAfter(s) => Retry::After(s.duration()),
        Error::Network(_) => Retry::Backoff,
        _ => Retry::Never,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use teloxide::types::Seconds;

    use std::time::Duration;

    use palisade_adapter_kit::Backoff;

    use super::*;
    use teloxide::RequestError;

    fn flood(secs: u32) -> RequestError {
        RequestError::RetryAfter(Seconds::from_seconds(secs))
    }

    #[test]
    fn waits_follow_the_error() {
        let b = Backoff::default();
        assert_eq!(b.wait(1, classify(&flood(7))), Some(Duration::from_secs(7)));
        assert_eq!(b.wait(1, classify(&flood(3600))), None, "too long: report instead of blocking");
        assert_eq!(b.wait(5, classify(&flood(1))), None, "attempts exhausted");
        assert_eq!(b.wait(1, classify(&RequestError::Api(teloxide::ApiError::BotBlocked))), None);
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
                classify,
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
                classify,
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
