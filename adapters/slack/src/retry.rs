//! Retrying Web API calls: wait as long as a 429's `Retry-After` asks, back off on network errors and 5xx
//! answers, give up after a bound. (Pacing to Slack's per-method tiers, so that 429s stay rare, is
//! slack-morphism's rate controller, switched on by `rate_tiers`.)

use std::time::Duration;

use palisade_adapter_kit::retry::Retry;
use slack_morphism::errors::SlackClientError as Error;

/// Which Web API errors are worth another try.
pub fn classify(error: &Error) -> Retry {
    match error {
        // Slack always sends Retry-After with a 429; one second is the floor if a proxy dropped it.
        Error::RateLimitError(e) => Retry::After(e.retry_after.unwrap_or(Duration::from_secs(1))),
        Error::HttpError(e) if e.status_code.is_server_error() => Retry::Backoff,
        Error::HttpProtocolError(_) | Error::EndOfStream(_) => Retry::Backoff,
        _ => Retry::Never,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use slack_morphism::errors::{SlackClientApiError, SlackClientHttpError, SlackRateLimitError};

    use palisade_adapter_kit::Backoff;

    use super::*;
    use slack_morphism::errors::SlackClientError;

    fn limited(secs: Option<u64>) -> SlackClientError {
        SlackClientError::RateLimitError(SlackRateLimitError::new().opt_retry_after(secs.map(Duration::from_secs)))
    }

    #[test]
    fn waits_follow_the_error() {
        let b = Backoff::default();
        assert_eq!(b.wait(1, classify(&limited(Some(7)))), Some(Duration::from_secs(7)));
        assert_eq!(b.wait(1, classify(&limited(None))), Some(Duration::from_secs(1)));
        assert_eq!(b.wait(1, classify(&limited(Some(3600)))), None, "too long: report instead of blocking");
        assert_eq!(b.wait(5, classify(&limited(Some(1)))), None, "attempts exhausted");
        let api = SlackClientError::ApiError(SlackClientApiError::new("channel_not_found".into()));
        assert_eq!(b.wait(1, classify(&api)), None);
        let bad_gateway = SlackClientError::HttpError(SlackClientHttpError::new(http_status(502)));
        assert_eq!(b.wait(2, classify(&bad_gateway)), Some(Duration::from_secs(1)));
        let not_found = SlackClientError::HttpError(SlackClientHttpError::new(http_status(404)));
        assert_eq!(b.wait(1, classify(&not_found)), None);
        assert_eq!(b.network(30), Duration::from_secs(8));
    }

    fn http_status(code: u16) -> palisade_adapter_kit::webhook::http::StatusCode {
        palisade_adapter_kit::webhook::http::StatusCode::from_u16(code).unwrap_or_default()
    }

    #[tokio::test(start_paused = true)]
    async fn honours_retry_after_then_succeeds() {
        let calls = AtomicU32::new(0);
        let started = tokio::time::Instant::now();
        let out = Backoff::default()
            .run("chat.postMessage", classify, crate::api::describe, || async {
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
            .run("chat.postMessage", classify, crate::api::describe, || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(limited(Some(1)))
            })
            .await;
        assert!(matches!(out, Err(SlackClientError::RateLimitError(_))));
        assert_eq!(calls.load(Ordering::SeqCst), 5);
    }
}
