//! Authenticating an interaction request: the Ed25519 signature over timestamp ‖ body (serenity's
//! `Verifier`), then the freshness of the signed timestamp. Nothing in the body is looked at before both
//! pass; repeated interaction ids are caught after parsing by the endpoint.

use std::time::Duration;

use serenity::interactions_endpoint::Verifier;

use crate::settings::parse_public_key;

/// The header carrying the hex signature.
pub const SIGNATURE_HEADER: &str = "x-signature-ed25519";
/// The header carrying the signed Unix timestamp (seconds).
pub const TIMESTAMP_HEADER: &str = "x-signature-timestamp";

/// Why a request was refused (401). The reasons name no content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// A signature or timestamp header is missing.
    #[error("missing signature headers")]
    Unsigned,
    /// The signature does not verify with the application's public key.
    #[error("bad signature")]
    Forged,
    /// The signed timestamp is outside the freshness window.
    #[error("stale timestamp")]
    Stale,
    /// The interaction id was seen before.
    #[error("replayed interaction")]
    Replayed,
}

/// Checks signatures and timestamps.
#[derive(Clone)]
pub struct Authenticator {
    verifier: Verifier,
    freshness: Duration,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").field("freshness", &self.freshness).finish_non_exhaustive()
    }
}

impl Rejection {
    /// The fixed reason reported for a refused request.
    pub fn label(self) -> &'static str {
        match self {
            Self::Unsigned => "missing signature headers",
            Self::Forged => "bad signature",
            Self::Stale => "stale timestamp",
            Self::Replayed => "replayed interaction",
        }
    }
}

impl Authenticator {
    /// An authenticator for the application's hex public key; `None` if the key is not a valid Ed25519 key
    /// (settings validation reports that with a fix).
    pub fn new(public_key_hex: &str, freshness: Duration) -> Option<Self> {
        let verifier = Verifier::try_new(parse_public_key(public_key_hex)?).ok()?;
        Some(Self { verifier, freshness })
    }

    /// Verifies the signature over `timestamp ‖ body`, then that `timestamp` lies within the freshness window
    /// around `now_secs`.
    pub fn check(
        &self,
        signature: Option<&str>,
        timestamp: Option<&str>,
        body: &[u8],
        now_secs: u64,
    ) -> Result<(), Rejection> {
        let (Some(signature), Some(timestamp)) = (signature, timestamp) else {
            return Err(Rejection::Unsigned);
        };
        self.verifier.verify(signature, timestamp, body).map_err(|()| Rejection::Forged)?;
        let signed: u64 = timestamp.trim().parse().map_err(|_| Rejection::Stale)?;
        if now_secs.abs_diff(signed) > self.freshness.as_secs() {
            return Err(Rejection::Stale);
        }
        Ok(())
    }

    /// Checks only that `timestamp` is within the freshness window of `now_secs` (before the body is read;
    /// the signature over it is checked by [`Authenticator::check`]).
    pub fn check_fresh(&self, timestamp: Option<&str>, now_secs: u64) -> Result<(), Rejection> {
        let signed: u64 = timestamp.ok_or(Rejection::Unsigned)?.trim().parse().map_err(|_| Rejection::Stale)?;
        if now_secs.abs_diff(signed) > self.freshness.as_secs() { Err(Rejection::Stale) } else { Ok(()) }
    }

    /// The freshness window.
    pub fn freshness(&self) -> Duration {
        self.freshness
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use ed25519_dalek::{Signer, SigningKey};

    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn signature_first_then_freshness_both_ways() {
        let key = SigningKey::from_bytes(&[9u8; 32]);
        let auth = Authenticator::new(&hex(key.verifying_key().as_bytes()), Duration::from_secs(300)).unwrap();
        let sign = |ts: &str, body: &str| hex(&key.sign(format!("{ts}{body}").as_bytes()).to_bytes());
        let body = r#"{"type":1}"#;
        let ok = sign("1000", body);
        assert_eq!(auth.check(Some(&ok), Some("1000"), body.as_bytes(), 1000), Ok(()));
        assert_eq!(auth.check(Some(&ok), Some("1000"), body.as_bytes(), 1300), Ok(()));
        assert_eq!(auth.check(Some(&ok), Some("1000"), body.as_bytes(), 1301), Err(Rejection::Stale));
        assert_eq!(auth.check(Some(&ok), Some("1000"), body.as_bytes(), 699), Err(Rejection::Stale));
        assert_eq!(auth.check(Some(&ok), Some("1001"), body.as_bytes(), 1000), Err(Rejection::Forged));
        assert_eq!(auth.check(Some(&ok), Some("1000"), b"{}", 1000), Err(Rejection::Forged));
        assert_eq!(auth.check(None, Some("1000"), body.as_bytes(), 1000), Err(Rejection::Unsigned));
        // A stale request with a forged signature is reported as forged: the signature is checked first.
        assert_eq!(auth.check(Some(&"0".repeat(128)), Some("1"), body.as_bytes(), 1000), Err(Rejection::Forged));
        let signed_garbage = sign("soon", body);
        assert_eq!(auth.check(Some(&signed_garbage), Some("soon"), body.as_bytes(), 1000), Err(Rejection::Stale));
        assert!(Authenticator::new("00", Duration::from_secs(1)).is_none());
    }
}
