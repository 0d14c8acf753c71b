//! Signatures on outgoing webhooks: `X-Palisade-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` over
//! `"<t>.<body>"`, so receivers can check origin and freshness (the scheme Stripe popularised).

use crate::crypto::{CryptoError, ct_eq, hmac_sha256};

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "X-Palisade-Signature";

fn mac(secret: &[u8], t: u64, body: &[u8]) -> Result<String, CryptoError> {
    let msg = [t.to_string().as_bytes(), b".", body].concat();
    Ok(crate::crypto::hex(&hmac_sha256(secret, &msg)?))
}

/// The header value for `body` sent at Unix time `t`.
pub fn sign(secret: &[u8], t: u64, body: &[u8]) -> Result<String, CryptoError> {
    Ok(format!("t={t},v1={}", mac(secret, t, body)?))
}

/// Checks a header value against `body` at Unix time `now`, allowing `tolerance_secs` of age (for receivers
/// written in Rust, and for tests).
pub fn verify(secret: &[u8], header: &str, body: &[u8], now: u64, tolerance_secs: u64) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse::<u64>().ok(),
            Some(("v1", v)) => v1 = Some(v),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else { return false };
    if now.abs_diff(t) > tolerance_secs {
        return false;
    }
    mac(secret, t, body).is_ok_and(|expected| ct_eq(expected.as_bytes(), v1.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_matches_rfc4231_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let tag = hmac_sha256(b"Jefe", b"what do ya want for nothing?").unwrap();
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn signatures_verify_and_expire() {
        let h = sign(b"whsec", 1_700_000_000, b"{\"a\":1}").unwrap();
        assert!(verify(b"whsec", &h, b"{\"a\":1}", 1_700_000_100, 300));
        assert!(!verify(b"whsec", &h, b"{\"a\":2}", 1_700_000_100, 300), "body changed");
        assert!(!verify(b"other", &h, b"{\"a\":1}", 1_700_000_100, 300), "wrong secret");
        assert!(!verify(b"whsec", &h, b"{\"a\":1}", 1_700_001_000, 300), "stale");
        assert!(!verify(b"whsec", "garbage", b"", 0, 300));
    }
}
