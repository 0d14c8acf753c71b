//! Link codes: 10 characters from an alphabet without look-alikes (no 0/O, 1/I/L), shown as `ABCDE-FGHJK`,
//! typed back in any case, with or without the dash or spaces. About 49.5 bits: with the step-up throttle
//! on wrong guesses (a pause after 5, doubling), guessing one within its 10 minutes is hopeless.

/// The alphabet: 23 letters and 8 digits.
const ALPHABET: &[u8; 31] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
/// Characters in a code.
pub const LEN: usize = 10;

/// A fresh random code from the OS CSPRNG, unbiased (bytes past the last whole multiple of 31 are drawn
/// again).
pub fn generate() -> Result<String, crate::crypto::CryptoError> {
    let mut out = String::with_capacity(LEN + 1);
    while out.len() < LEN + 1 {
        for b in crate::crypto::random_bytes(32)?.iter() {
            if out.len() == LEN + 1 {
                break;
            }
            if usize::from(*b) < 31 * 8 {
                if out.len() == LEN / 2 {
                    out.push('-');
                }
                out.push(char::from(ALPHABET[usize::from(*b) % 31]));
            }
        }
    }
    Ok(out)
}

/// What the user typed, as a code: upper case, separators dropped; `None` when it cannot be a code.
pub fn normalise(typed: &str) -> Option<String> {
    let code: String =
        typed.chars().filter(|c| !matches!(c, '-' | ' ' | '_' | '.')).map(|c| c.to_ascii_uppercase()).collect();
    (code.len() == LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_long_unambiguous_and_forgiving_about_format() {
        let code = generate().unwrap();
        assert_eq!(code.len(), LEN + 1);
        assert_eq!(&code[5..6], "-");
        let plain = normalise(&code).unwrap();
        assert!(!plain.contains(['0', 'O', '1', 'I', 'L']));
        assert_eq!(normalise(&code.to_lowercase().replace('-', " ")), Some(plain.clone()));
        assert_eq!(normalise("ABCDE-FGHJ0"), None, "a look-alike is not part of the alphabet");
        assert_eq!(normalise("ABCDE"), None);
        let many: std::collections::HashSet<String> = (0..200).map(|_| generate().unwrap()).collect();
        assert_eq!(many.len(), 200);
    }
}
