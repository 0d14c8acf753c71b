//! One-time codes computed the way an authenticator app computes them, independently of the runtime's
//! implementation: RFC 4648 base32, RFC 4226 HOTP and RFC 6238 TOTP over the `hmac` and `sha1` crates (the
//! runtime uses totp-rs). Checked against the published vectors of RFC 6238, Appendix B.

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{KeyInit, Mac};

/// Decodes RFC 4648 base32 (upper case, padding optional).
///
/// # Panics
/// On a character outside the alphabet (a test's input is wrong).
pub fn base32(text: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut acc, mut out) = (0u32, 0u64, Vec::new());
    for c in text.trim_end_matches('=').bytes() {
        let Some(value) = alphabet.iter().position(|a| *a == c) else {
            panic!("`{}` is not base32", char::from(c));
        };
        acc = (acc << 5) | value as u64;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// RFC 4226 HOTP with HMAC-SHA1: `digits` decimal digits for `counter`.
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> String {
    let Ok(mut mac) = hmac::Hmac::<sha1::Sha1>::new_from_slice(secret) else { panic!("HMAC takes any key") };
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = usize::from(hash[hash.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([hash[offset] & 0x7f, hash[offset + 1], hash[offset + 2], hash[offset + 3]]);
    format!("{:0width$}", binary % 10u32.pow(digits), width = digits as usize)
}

/// RFC 6238 TOTP (SHA-1, 30-second steps, 6 digits) at Unix time `unix_secs`.
pub fn code_at(secret: &[u8], unix_secs: u64) -> String {
    hotp(secret, unix_secs / 30, 6)
}

/// The code `steps` 30-second steps from now (negative: earlier).
pub fn code_now(secret: &[u8], steps: i64) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    code_at(secret, now.saturating_add_signed(steps * 30))
}

/// The secret in a `/2fa setup` answer (the base32 text shown "to type in by hand").
///
/// # Panics
/// When `text` holds no such secret.
pub fn secret_from_setup(text: &str) -> Vec<u8> {
    let Some(rest) = text.split("by hand: ").nth(1) else { panic!("no secret in: {text}") };
    base32(rest.split([')', ' ', '\n']).next().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, Appendix B: the SHA-1 rows (8 digits) for the 20-byte ASCII seed "12345678901234567890".
    #[test]
    fn matches_the_rfc_6238_vectors() {
        let seed = b"12345678901234567890";
        for (time, code) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(hotp(seed, time / 30, 8), code, "T = {time}");
        }
        assert_eq!(code_at(seed, 59), "287082");
    }

    #[test]
    fn base32_matches_rfc_4648() {
        assert_eq!(base32("MZXW6YTBOI======"), b"foobar");
        assert_eq!(base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"), b"12345678901234567890");
    }
}
