//! Single-use recovery codes: random, shown once, stored only as hashes.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::crypto;

/// How many codes a user gets.
pub const COUNT: usize = 10;
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// One stored recovery code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryCode {
    /// BLAKE2b-256 of the normalised code, hex.
    pub hash: String,
    /// When it was used, if it was.
    pub used_at_ms: Option<u64>,
}

/// Makes [`COUNT`] fresh codes (`xxxxx-xxxxx`, 10 characters from a 31-letter alphabet: about 49.5 bits each)
/// and their stored form.
pub fn generate() -> Result<(Vec<Zeroizing<String>>, Vec<RecoveryCode>), crypto::CryptoError> {
    let mut shown = Vec::with_capacity(COUNT);
    let mut stored = Vec::with_capacity(COUNT);
    for _ in 0..COUNT {
        let chars = unbiased_chars(10)?;
        let code = Zeroizing::new(format!("{}-{}", &chars[..5], &chars[5..]));
        stored.push(RecoveryCode { hash: hash(&code), used_at_ms: None });
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

fn hash(code: &str) -> String {
    crypto::hex(&crypto::digest(normalise(code).as_bytes()))
}

/// Marks the unused code matching `input` as used at `now_ms`; returns whether one matched. Every stored
/// hash is compared (in constant time) so timing does not reveal which one matched.
pub fn redeem(codes: &mut [RecoveryCode], input: &str, now_ms: u64) -> bool {
    let candidate = hash(input);
    let mut hit = None;
    for (i, c) in codes.iter().enumerate() {
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

    #[test]
    fn codes_are_single_use_and_forgiving_about_format() {
        let (shown, mut stored) = generate().unwrap();
        assert_eq!(shown.len(), COUNT);
        assert!(shown.iter().all(|c| looks_like(c)));
        assert!(!looks_like("123456"));
        let first = shown[0].to_uppercase().replace('-', " ");
        assert!(redeem(&mut stored, &first, 5));
        assert!(!redeem(&mut stored, &shown[0], 6), "second use refused");
        assert!(redeem(&mut stored, &shown[1], 7));
        assert!(!redeem(&mut stored, "aaaaa-aaaaa", 8));
        assert_eq!(stored.iter().filter(|c| c.used_at_ms.is_some()).count(), 2);
        assert!(stored.iter().all(|c| !shown.iter().any(|s| c.hash.contains(s.as_str()))));
    }
}
