//! Single-use recovery codes: random, shown once, stored only as keyed hashes.
//!
//! A stored code is `v2:` and hex(BLAKE2b-256 keyed with a key derived from the store's own keys, over the
//! enrolment's random salt and the normalised code) (OWASP ASVS 2.6.2: lookup secrets hashed with a salt and
//! a secret key): a copy of the store without its keys gives nothing to try ~50-bit codes against. Codes from
//! before this format (a bare BLAKE2b, no prefix) are still accepted until they are used or replaced.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::crypto;

/// How many codes a user gets.
pub const COUNT: usize = 10;
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// One stored recovery code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryCode {
    /// `v2:` and the keyed hash of salt and normalised code, hex (or, from older enrolments, a bare hash).
    pub hash: String,
    /// When it was used, if it was.
    pub used_at_ms: Option<u64>,
}

/// The keyed hash recovery codes are stored under: the runtime's store provides it (its key never leaves it).
pub type Mac<'a> = &'a (dyn Fn(&[u8]) -> Option<[u8; 32]> + Sync);

/// Makes [`COUNT`] fresh codes (`xxxxx-xxxxx`, 10 characters from a 31-letter alphabet: about 49.5 bits each)
/// and their stored form under `salt`.
pub fn generate(mac: Mac<'_>, salt: &[u8]) -> Result<(Vec<Zeroizing<String>>, Vec<RecoveryCode>), crypto::CryptoError> {
    let mut shown = Vec::with_capacity(COUNT);
    let mut stored = Vec::with_capacity(COUNT);
    for _ in 0..COUNT {
        let chars = unbiased_chars(10)?;
        let code = Zeroizing::new(format!("{}-{}", &chars[..5], &chars[5..]));
        let hash = keyed(mac, salt, &code).ok_or(crypto::CryptoError::InvalidKey("the recovery code key"))?;
        stored.push(RecoveryCode { hash, used_at_ms: None });
        shown.push(code);
    }
    Ok((shown, stored))
}

/// `n` characters drawn uniformly from the alphabet (bytes at or above the largest multiple of its length
/// are rejected, so no character is likelier than another).
fn unbiased_chars(n: usize) -> Result<Zeroizing<String>, crypto::CryptoError> {
    let limit = 256 - 256 % ALPHABET.len();
    let mut out = Zeroizing::new(String::with_capacity(n));
    while out.len() < n {
        for b in crypto::random_bytes(n)?.iter().map(|b| usize::from(*b)) {
            if b < limit && out.len() < n {
                out.push(ALPHABET[b % ALPHABET.len()] as char);
            }
        }
    }
    Ok(out)
}

/// True when `input` has the shape of a recovery code (so it is not counted as a wrong TOTP code).
pub fn looks_like(input: &str) -> bool {
    let n = normalise(input);
    n.len() == 10 && n.bytes().all(|b| ALPHABET.contains(&b))
}

fn normalise(input: &str) -> Zeroizing<String> {
    Zeroizing::new(input.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect())
}

fn keyed(mac: Mac<'_>, salt: &[u8], code: &str) -> Option<String> {
    let normalised = normalise(code);
    let input = Zeroizing::new([salt, normalised.as_bytes()].concat());
    mac(&input).map(|h| format!("v2:{}", crypto::hex(&h)))
}

/// The form of codes stored before keyed hashes.
fn legacy(code: &str) -> String {
    crypto::hex(&crypto::digest(normalise(code).as_bytes()))
}

/// Marks the unused code matching `input` as used at `now_ms`; returns whether one matched. Every stored
/// hash is compared (in constant time) so timing does not reveal which one matched.
pub fn redeem(codes: &mut [RecoveryCode], input: &str, now_ms: u64, mac: Mac<'_>, salt: &[u8]) -> bool {
    let (current, old) = (keyed(mac, salt, input).unwrap_or_default(), legacy(input));
    let mut hit = None;
    for (i, c) in codes.iter().enumerate() {
        let candidate = if c.hash.starts_with("v2:") { &current } else { &old };
        if crypto::ct_eq(c.hash.as_bytes(), candidate.as_bytes()) && c.used_at_ms.is_none() {
            hit = Some(i);
        }
    }
    if let Some(i) = hit {
        codes[i].used_at_ms = Some(now_ms);
    }
    hit.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(data: &[u8]) -> Option<[u8; 32]> {
        let key = crypto::Key::from_bytes(&[9u8; 32]).ok()?;
        Some(key.hash(data))
    }

    #[test]
    fn stored_codes_need_the_key_and_the_salt() {
        let (shown, stored) = generate(&mac, b"salt-a").unwrap();
        let mut copy = stored.clone();
        assert!(stored.iter().all(|c| c.hash.starts_with("v2:")));
        assert!(!redeem(&mut copy, &shown[0], 1, &mac, b"salt-b"), "another salt");
        let other_key = |d: &[u8]| Some(crypto::Key::from_bytes(&[8u8; 32]).ok()?.hash(d));
        assert!(!redeem(&mut copy, &shown[0], 1, &other_key, b"salt-a"), "another key");
        assert!(redeem(&mut copy, &shown[0], 1, &mac, b"salt-a"));
        let mut old = vec![RecoveryCode { hash: legacy("abcde-fghjk"), used_at_ms: None }];
        assert!(redeem(&mut old, "ABCDE FGHJK", 2, &mac, b"salt-a"), "codes from before still work once");
    }

    #[test]
    fn codes_are_single_use_and_forgiving_about_format() {
        let (shown, mut stored) = generate(&mac, b"salt").unwrap();
        assert_eq!(shown.len(), COUNT);
        assert!(shown.iter().all(|c| looks_like(c)));
        assert!(!looks_like("123456"));
        let first = shown[0].to_uppercase().replace('-', " ");
        assert!(redeem(&mut stored, &first, 5, &mac, b"salt"));
        assert!(!redeem(&mut stored, &shown[0], 6, &mac, b"salt"), "second use refused");
        assert!(redeem(&mut stored, &shown[1], 7, &mac, b"salt"));
        assert!(!redeem(&mut stored, "aaaaa-aaaaa", 8, &mac, b"salt"));
        assert_eq!(stored.iter().filter(|c| c.used_at_ms.is_some()).count(), 2);
        assert!(stored.iter().all(|c| !shown.iter().any(|s| c.hash.contains(s.as_str()))));
    }
}
