//! Slack's v0 request signatures: `X-Slack-Signature: v0=` hex(HMAC-SHA256(signing secret,
//! `v0:` ‖ `X-Slack-Request-Timestamp` ‖ `:` ‖ raw body)), compared in constant time, and the timestamp no
//! more than five minutes from now in either direction (so a captured request cannot be replayed later).
//!
//! The MAC and the comparison are `palisade-crypto`'s (the one cryptography module).

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-slack-signature";
/// The header carrying the request's Unix time in seconds.
pub const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
/// Largest accepted difference between the request's timestamp and now, in seconds (Slack's advice).
pub const MAX_SKEW_SECS: i64 = 300;

/// Why a request was refused. The text never includes the request's content.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The signature or timestamp header is missing or not text.
    #[error("missing X-Slack-Signature or X-Slack-Request-Timestamp")]
    Missing,
    /// The timestamp is not a number.
    #[error("malformed X-Slack-Request-Timestamp")]
    Malformed,
    /// The timestamp is more than five minutes from now: a replay, or a clock that needs fixing.
    #[error("stale X-Slack-Request-Timestamp (more than 5 minutes off; check the server clock)")]
    Stale,
    /// The signature does not match: forged, altered, or signed with another secret.
    #[error("bad X-Slack-Signature")]
    Forged,
}

/// The signature Slack would send for `body` at `timestamp` (`v0=` and 64 hex digits); empty when the secret
/// is unusable (empty).
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let message = [b"v0:", timestamp.as_bytes(), b":", body].concat();
    match palisade_crypto::hmac_sha256(secret, &message) {
        Ok(mac) => format!("v0={}", palisade_crypto::hex(&mac)),
        Err(_) => String::new(),
    }
}

/// Checks the timestamp header against `now` (Unix seconds) — before the body is even read.
pub fn check_timestamp(timestamp: &str, now: i64) -> Result<(), Rejection> {
    let ts: i64 = timestamp.trim().parse().map_err(|_| Rejection::Malformed)?;
    if now.abs_diff(ts) > MAX_SKEW_SECS.unsigned_abs() { Err(Rejection::Stale) } else { Ok(()) }
}

/// Checks `signature` over `timestamp` and `body` in constant time.
pub fn check_signature(secret: &[u8], timestamp: &str, signature: &str, body: &[u8]) -> Result<(), Rejection> {
    let expected = sign(secret, timestamp, body);
    if !expected.is_empty() && palisade_crypto::ct_eq(expected.as_bytes(), signature.trim().as_bytes()) {
        Ok(())
    } else {
        Err(Rejection::Forged)
    }
}

/// The current Unix time in seconds.
pub fn now_secs() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(now.as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_more_than_five_minutes_off_are_stale_either_way() {
        assert_eq!(check_timestamp("1000", 1000 + 300), Ok(()));
        assert_eq!(check_timestamp("1000", 1000 + 301), Err(Rejection::Stale));
        assert_eq!(check_timestamp("1301", 1000), Err(Rejection::Stale));
        assert_eq!(check_timestamp("soon", 1000), Err(Rejection::Malformed));
        assert_eq!(check_timestamp("-9223372036854775808", i64::MAX), Err(Rejection::Stale));
    }

    #[test]
    fn any_change_breaks_the_signature() {
        let good = sign(b"secret", "1000", b"body");
        assert_eq!(good.len(), 67);
        assert_eq!(check_signature(b"secret", "1000", &good, b"body"), Ok(()));
        assert_eq!(check_signature(b"secret", "1001", &good, b"body"), Err(Rejection::Forged));
        assert_eq!(check_signature(b"secret", "1000", &good, b"bodY"), Err(Rejection::Forged));
        assert_eq!(check_signature(b"secreT", "1000", &good, b"body"), Err(Rejection::Forged));
        assert_eq!(check_signature(b"secret", "1000", &good.to_uppercase(), b"body"), Err(Rejection::Forged));
        assert_eq!(check_signature(b"secret", "1000", "", b"body"), Err(Rejection::Forged));
    }
}
