//! The one place that seals, opens, derives, hashes and compares. Everything here is orion (XChaCha20-Poly1305,
//! keyed BLAKE2b, HKDF-SHA512) or the OS CSPRNG; key buffers are wiped when dropped.
//!
//! Formats (stable; a version byte leads every sealed value):
//! - sealed value: `0x01 ‖ nonce (24) ‖ ciphertext ‖ tag (16)`, with caller-supplied associated data that
//!   binds it to where it is stored, so bytes copied elsewhere do not open;
//! - derived key: HKDF-SHA512(salt = "palisade", ikm = master key, info = purpose label), 32 bytes;
//! - keyed hash: BLAKE2b-256 keyed with a 32-byte key.

use orion::hazardous::aead::xchacha20poly1305::{self, Nonce, SecretKey};
use orion::hazardous::kdf::hkdf::{Hkdf, SHA512};
use zeroize::{Zeroize, Zeroizing};

/// Length of every key: master, derived and data keys.
pub const KEY_LEN: usize = 32;
const SEALED_V1: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// Why a cryptographic operation failed. Never carries key material or plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The sealed value was altered, is corrupt, was moved from where it was sealed, or the key is wrong.
    #[error("authentication failed: the value was altered, moved, or sealed under another key")]
    Authentication,
    /// The sealed value is too short or has an unknown version.
    #[error("not a sealed value (bad length or version)")]
    Format,
    /// A key has the wrong length or could not be parsed.
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Random,
}

/// A 32-byte symmetric key, wiped from memory on drop, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Key(Zeroizing<[u8; KEY_LEN]>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key([redacted])")
    }
}

impl Key {
    /// A fresh random key from the OS CSPRNG.
    pub fn generate() -> Result<Self, CryptoError> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        orion::util::secure_rand_bytes(bytes.as_mut()).map_err(|_| CryptoError::Random)?;
        Ok(Self(bytes))
    }

    /// A key from exactly 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let arr: [u8; KEY_LEN] = bytes.try_into().map_err(|_| CryptoError::InvalidKey("a key must be 32 bytes"))?;
        Ok(Self(Zeroizing::new(arr)))
    }

    /// Parses a key written as standard base64 (surrounding whitespace ignored).
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        use base64::Engine;
        let mut raw = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| CryptoError::InvalidKey("not valid base64"))?;
        let key = Self::from_bytes(&raw);
        raw.zeroize();
        key.map_err(|_| CryptoError::InvalidKey("base64 must decode to exactly 32 bytes"))
    }

    /// The key as base64, for writing a key file. The returned text is wiped on drop.
    pub fn to_base64(&self) -> Zeroizing<String> {
        use base64::Engine;
        Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(self.0.as_ref()))
    }

    /// The raw bytes (for wrapping this key under another).
    pub fn expose(&self) -> &[u8] {
        self.0.as_ref()
    }

    /// A subkey for one purpose: HKDF-SHA512 with `label` as info.
    pub fn derive(&self, label: &str) -> Result<Key, CryptoError> {
        let mut out = Zeroizing::new([0u8; KEY_LEN]);
        Hkdf::<SHA512>::derive_key(b"palisade", self.0.as_ref(), Some(label.as_bytes()), out.as_mut())
            .map_err(|_| CryptoError::InvalidKey("derivation failed"))?;
        Ok(Self(out))
    }

    /// Keyed BLAKE2b-256 of `data`: the pseudonymous form of an identifier.
    pub fn hash(&self, data: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        // Cannot fail: the key is 32 bytes and the output length is fixed.
        if let Ok(sk) = orion::auth::SecretKey::try_from(self.0.as_slice())
            && let Ok(tag) = orion::auth::authenticate(&sk, data)
        {
            out.copy_from_slice(tag.unprotected_as_ref::<[u8]>());
        }
        out
    }

    /// Seals `plaintext`, binding it to `aad` (where it is stored); a fresh random nonce each time.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let nonce = Nonce::generate().map_err(|_| CryptoError::Random)?;
        self.seal_with_nonce(&nonce, aad, plaintext)
    }

    fn seal_with_nonce(&self, nonce: &Nonce, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let sk = self.aead_key()?;
        let mut out = vec![0u8; 1 + NONCE_LEN + plaintext.len() + TAG_LEN];
        out[0] = SEALED_V1;
        out[1..1 + NONCE_LEN].copy_from_slice(nonce.as_ref());
        xchacha20poly1305::XChaCha20Poly1305::seal(&sk, nonce, plaintext, Some(aad), &mut out[1 + NONCE_LEN..])
            .map_err(|_| CryptoError::Format)?;
        Ok(out)
    }

    /// Opens a value sealed by [`Key::seal`] with the same `aad`.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if sealed.len() < 1 + NONCE_LEN + TAG_LEN || sealed[0] != SEALED_V1 {
            return Err(CryptoError::Format);
        }
        let sk = self.aead_key()?;
        let nonce = Nonce::try_from(&sealed[1..1 + NONCE_LEN]).map_err(|_| CryptoError::Format)?;
        let body = &sealed[1 + NONCE_LEN..];
        let mut out = Zeroizing::new(vec![0u8; body.len() - TAG_LEN]);
        xchacha20poly1305::XChaCha20Poly1305::open(&sk, &nonce, body, Some(aad), &mut out)
            .map_err(|_| CryptoError::Authentication)?;
        Ok(out)
    }

    fn aead_key(&self) -> Result<SecretKey, CryptoError> {
        SecretKey::try_from(self.0.as_slice()).map_err(|_| CryptoError::InvalidKey("a key must be 32 bytes"))
    }
}

/// `n` bytes from the OS CSPRNG (TOTP secrets, recovery codes), wiped on drop.
pub fn random_bytes(n: usize) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let mut out = Zeroizing::new(vec![0u8; n]);
    orion::util::secure_rand_bytes(&mut out).map_err(|_| CryptoError::Random)?;
    Ok(out)
}

/// Unkeyed BLAKE2b-256, for storing high-entropy one-time secrets (recovery codes) only as hashes.
pub fn digest(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    if let Ok(d) = orion::hash::digest(data) {
        out.copy_from_slice(d.as_ref());
    }
    out
}

/// HMAC-SHA256 of `data` under `key` (outgoing webhook signatures; any key length).
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> Result<[u8; 32], CryptoError> {
    use orion::hazardous::mac::hmac::sha256::{HmacSha256, SecretKey};
    let sk = SecretKey::try_from(key).map_err(|_| CryptoError::InvalidKey("unusable HMAC key"))?;
    let tag = HmacSha256::hmac(&sk, data).map_err(|_| CryptoError::InvalidKey("HMAC failed"))?;
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.unprotected_as_ref::<[u8]>());
    Ok(out)
}

/// Lower-case hex of `bytes` (digests, MACs, random ids).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two secrets (codes, tokens, MACs) in constant time.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    orion::util::secure_cmp(a, b).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_binding() {
        let k = Key::generate().unwrap();
        let sealed = k.seal(b"ns/key-1", b"hello").unwrap();
        assert_eq!(k.open(b"ns/key-1", &sealed).unwrap().as_slice(), b"hello");
        assert_eq!(k.open(b"ns/key-2", &sealed), Err(CryptoError::Authentication));
        let other = Key::generate().unwrap();
        assert_eq!(other.open(b"ns/key-1", &sealed), Err(CryptoError::Authentication));
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(k.open(b"ns/key-1", &flipped), Err(CryptoError::Authentication));
        assert_eq!(k.open(b"ns/key-1", &sealed[..10]), Err(CryptoError::Format));
        assert_ne!(k.seal(b"a", b"same").unwrap(), k.seal(b"a", b"same").unwrap(), "fresh nonce each time");
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn xchacha20poly1305_matches_the_draft_rfc_vector() {
        // draft-irtf-cfrg-xchacha-03, appendix A.3.1 (also reproduced with libsodium through PyNaCl).
        let key = Key::from_bytes(&unhex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")).unwrap();
        let nonce = Nonce::try_from(&unhex("404142434445464748494a4b4c4d4e4f5051525354555657")).unwrap();
        let aad = unhex("50515253c0c1c2c3c4c5c6c7");
        let pt = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
        let sealed = key.seal_with_nonce(&nonce, &aad, pt).unwrap();
        let expected = "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39\
                        ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9\
                        21f9664c97637da9768812f615c68b13b52ec0875924c1c7987947deafd8780acf49";
        assert_eq!(hex(&sealed[1 + NONCE_LEN..]), expected);
        assert_eq!(key.open(&aad, &sealed).unwrap().as_slice(), pt);
    }

    #[test]
    fn hkdf_sha512_and_keyed_blake2b_match_pythons_hashlib() {
        // Computed with Python's hmac/hashlib (an independent implementation):
        // HKDF-SHA512(salt=b"palisade", ikm=32 zero bytes, info=b"test")[:32]
        let k = Key::from_bytes(&[0u8; 32]).unwrap();
        assert_eq!(
            hex(k.derive("test").unwrap().expose()),
            "2443372e600f376c1efb25438373d5a2e6a581d2a62268a7b0ef14dd02a62077"
        );
        assert_ne!(k.derive("other").unwrap(), k.derive("test").unwrap());
        // hashlib.blake2b(b"telegram:123456", key=bytes(range(32)), digest_size=32)
        let k = Key::from_bytes(&(0u8..32).collect::<Vec<_>>()).unwrap();
        assert_eq!(
            hex(&k.hash(b"telegram:123456")),
            "796a2a7b5f1f3e80802b19f665b07195a5277a49f7c2d4fcf6d564f02f32ba37"
        );
    }

    #[test]
    fn base64_keys_parse_strictly() {
        let k = Key::generate().unwrap();
        assert_eq!(Key::from_base64(&format!("  {}\n", k.to_base64().as_str())).unwrap(), k);
        assert!(Key::from_base64("not base64!").is_err());
        assert!(Key::from_base64("AAAA").is_err());
        assert_eq!(format!("{k:?}"), "Key([redacted])");
    }

    #[test]
    fn constant_time_compare() {
        assert!(ct_eq(b"123456", b"123456"));
        assert!(!ct_eq(b"123456", b"123457"));
        assert!(!ct_eq(b"123456", b"12345"));
    }
}
