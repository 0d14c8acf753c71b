//! RFC 6238 time-based one-time passwords (HMAC-SHA1, 6 digits, 30 s steps by default) through totp-rs,
//! returning the matched time step so a code can be refused the second time.

use totp_rs::{Algorithm, Builder, Totp};
use zeroize::Zeroizing;

/// Length of a generated secret: 160 bits, as RFC 4226 recommends.
pub const SECRET_LEN: usize = 20;

/// A TOTP verifier for one secret.
pub struct Code {
    totp: Totp,
}

impl std::fmt::Debug for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Code([redacted])")
    }
}

/// Hash function of the HMAC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hash {
    /// HMAC-SHA1 (what authenticator apps use).
    Sha1,
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA512.
    Sha512,
}

impl Code {
    /// Standard authenticator settings: SHA1, 6 digits, 30 s, `skew` steps either side.
    pub fn standard(secret: &[u8], skew: u8) -> Result<Self, String> {
        Self::new(secret, Hash::Sha1, 6, 30, skew)
    }

    /// Any RFC 6238 parameters (used for the RFC's own test vectors).
    pub fn new(secret: &[u8], hash: Hash, digits: u8, step: u64, skew: u8) -> Result<Self, String> {
        let algorithm = match hash {
            Hash::Sha1 => Algorithm::SHA1,
            Hash::Sha256 => Algorithm::SHA256,
            Hash::Sha512 => Algorithm::SHA512,
        };
        let totp = Builder::new()
            .with_algorithm(algorithm)
            .with_digits(digits)
            .with_step_duration(step)
            .with_skew(u16::from(skew))
            .with_secret(secret.to_vec())
            .build()
            .map_err(|e| format!("invalid TOTP parameters: {e}"))?;
        Ok(Self { totp })
    }

    /// The code for Unix time `secs`.
    pub fn at(&self, secs: u64) -> Zeroizing<String> {
        Zeroizing::new(self.totp.generate(secs).to_string())
    }

    /// The time step `code` matches at Unix time `secs` within the skew window (constant-time comparison).
    pub fn matching_step(&self, code: &str, secs: u64) -> Option<u64> {
        self.totp.check(code, secs)
    }

    /// The `otpauth://` URI authenticator apps scan.
    pub fn uri(secret: &[u8], issuer: &str, account: &str) -> Zeroizing<String> {
        let b32 = Zeroizing::new(totp_rs::Secret::from(secret.to_vec()).to_base32());
        let enc = |s: &str| -> String {
            s.bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
                    _ => format!("%{b:02X}"),
                })
                .collect()
        };
        let (issuer, account) = (enc(issuer), enc(account));
        Zeroizing::new(format!(
            "otpauth://totp/{issuer}:{account}?secret={}&issuer={issuer}&algorithm=SHA1&digits=6&period=30",
            b32.as_str()
        ))
    }

    /// The secret in base32, for typing into an app by hand.
    pub fn base32(secret: &[u8]) -> Zeroizing<String> {
        Zeroizing::new(totp_rs::Secret::from(secret.to_vec()).to_base32())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA1_SEED: &[u8] = b"12345678901234567890";
    const SHA256_SEED: &[u8] = b"12345678901234567890123456789012";
    const SHA512_SEED: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

    #[test]
    fn rfc6238_appendix_b_vectors() {
        // (time, SHA1, SHA256, SHA512), 8 digits, 30 s steps.
        let vectors = [
            (59, "94287082", "46119246", "90693936"),
            (1_111_111_109, "07081804", "68084774", "25091201"),
            (1_111_111_111, "14050471", "67062674", "99943326"),
            (1_234_567_890, "89005924", "91819424", "93441116"),
            (2_000_000_000, "69279037", "90698825", "38618901"),
            (20_000_000_000, "65353130", "77737706", "47863826"),
        ];
        let sha1 = Code::new(SHA1_SEED, Hash::Sha1, 8, 30, 0).unwrap();
        let sha256 = Code::new(SHA256_SEED, Hash::Sha256, 8, 30, 0).unwrap();
        let sha512 = Code::new(SHA512_SEED, Hash::Sha512, 8, 30, 0).unwrap();
        for (t, c1, c256, c512) in vectors {
            assert_eq!(sha1.at(t).as_str(), c1, "SHA1 at {t}");
            assert_eq!(sha256.at(t).as_str(), c256, "SHA256 at {t}");
            assert_eq!(sha512.at(t).as_str(), c512, "SHA512 at {t}");
            assert_eq!(sha1.matching_step(c1, t), Some(t / 30));
        }
    }

    #[test]
    fn rfc4226_appendix_d_hotp_vectors() {
        // HOTP(counter) is TOTP with a one-second step at time = counter.
        let expected =
            ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"];
        let hotp = Code::new(SHA1_SEED, Hash::Sha1, 6, 1, 0).unwrap();
        for (counter, code) in expected.iter().enumerate() {
            assert_eq!(hotp.at(counter as u64).as_str(), *code, "counter {counter}");
        }
    }

    #[test]
    fn skew_window_is_one_step_either_side() {
        let code = Code::standard(SHA1_SEED, 1).unwrap();
        let now: u64 = 1_700_000_000;
        for (offset, accepted) in [(-60i64, false), (-30, true), (0, true), (30, true), (60, false)] {
            let c = code.at(now.checked_add_signed(offset).unwrap());
            assert_eq!(code.matching_step(&c, now).is_some(), accepted, "offset {offset}");
        }
        assert_eq!(code.matching_step("12345", now), None);
        assert_eq!(code.matching_step("abcdef", now), None);
    }

    #[test]
    fn uri_carries_issuer_label_and_base32_secret() {
        let uri = Code::uri(SHA1_SEED, "Acme Bank", "telegram 42");
        assert_eq!(
            uri.as_str(),
            "otpauth://totp/Acme%20Bank:telegram%2042?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme%20Bank&algorithm=SHA1&digits=6&period=30"
        );
    }
}
