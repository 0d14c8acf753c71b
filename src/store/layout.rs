//! Where a record lives and what its stored bytes are.
//!
//! Backend key: a subject tag (`0x01 ‖ H(subject)` for records about a person, `0x00` otherwise) followed by
//! `H(namespace ‖ 0 ‖ id)`, where `H` is keyed BLAKE2b-256 under the store's index key. No identifier appears
//! in a key, yet one prefix scan still finds everything about a subject.
//!
//! Stored value: the sealed form of a small envelope (`version ‖ written_at ‖ id length ‖ id ‖ value`), with
//! associated data `namespace ‖ 0 ‖ backend key`, so a value copied under another key or namespace fails to
//! open.

use super::{Record, StoreError, Subject};

const ENVELOPE_V1: u8 = 1;
const HEADER_LEN: usize = 1 + 8 + 4;
/// Length of a pseudonymous hash.
pub(crate) const HASH_LEN: usize = 32;

/// What the pseudonym of `subject` is the keyed hash of.
pub(crate) fn subject_input(subject: &Subject) -> Vec<u8> {
    [b"subject\0", subject.as_str().as_bytes()].concat()
}

/// What the hashed id of record `id` in `namespace` is the keyed hash of.
pub(crate) fn id_input(namespace: &str, id: &[u8]) -> Vec<u8> {
    [namespace.as_bytes(), b"\0", id].concat()
}

/// The subject hash inside a backend key, if the record is about a subject.
pub(crate) fn subject_of(backend_key: &[u8]) -> Option<[u8; HASH_LEN]> {
    match backend_key.first() {
        Some(1) => backend_key.get(1..1 + HASH_LEN).and_then(|h| h.try_into().ok()),
        _ => None,
    }
}

/// The backend key of the record whose hashed id ([`id_input`] under the index key) is `id_hash`, about the
/// subject (or person) `hash`.
pub(crate) fn record_key_of(hash: Option<&[u8; HASH_LEN]>, id_hash: &[u8; HASH_LEN]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + 2 * HASH_LEN);
    match hash {
        Some(h) => {
            k.push(1);
            k.extend_from_slice(h);
        }
        None => k.push(0),
    }
    k.extend_from_slice(id_hash);
    k
}

/// The key prefix of every record about the subject (or person) `hash`.
pub(crate) fn hash_tag(hash: &[u8; HASH_LEN]) -> Vec<u8> {
    [&[1u8][..], hash].concat()
}

/// `backend_key` moved to the subject (or person) `to`: the same record id, another owner.
pub(crate) fn moved_to(backend_key: &[u8], to: &[u8; HASH_LEN]) -> Option<Vec<u8>> {
    let rest = backend_key.get(1 + HASH_LEN..)?;
    Some([&hash_tag(to)[..], rest].concat())
}

/// Which backend entries belong together on a server that spreads data over several nodes (Redis Cluster
/// slots): everything about one subject — its records in every namespace, its data key and its link — or
/// the rest of one tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Slot {
    /// About the subject (or person) with this hash.
    Subject([u8; HASH_LEN]),
    /// Not about anybody: the tree's own group.
    Tree,
}

/// The subject hash at `at` in `bytes`, if `bytes` is long enough.
fn hash_at(bytes: &[u8], at: usize) -> Option<[u8; HASH_LEN]> {
    bytes.get(at..at + HASH_LEN).and_then(|h| h.try_into().ok())
}

/// The slot of the entry `key` in `tree`.
pub(crate) fn slot_of_key(tree: &str, key: &[u8]) -> Slot {
    slot_of_prefix(tree, key).unwrap_or(Slot::Tree)
}

/// The one slot every key starting with `prefix` in `tree` is in, or `None` when such keys span slots.
pub(crate) fn slot_of_prefix(tree: &str, prefix: &[u8]) -> Option<Slot> {
    use super::keyring::{KEYRING, LINKS, SUBJECT_ENTRY};
    let subject = |at: usize| hash_at(prefix, at).map(Slot::Subject);
    match tree {
        KEYRING if prefix.starts_with(SUBJECT_ENTRY) => subject(SUBJECT_ENTRY.len()),
        KEYRING if SUBJECT_ENTRY.starts_with(prefix) => None,
        LINKS => subject(0),
        t if t.starts_with('_') => Some(Slot::Tree),
        _ => match prefix.first() {
            Some(1) => subject(1),
            Some(_) => Some(Slot::Tree),
            None => None,
        },
    }
}

/// Associated data binding a sealed value to its place.
pub(crate) fn aad(namespace: &str, backend_key: &[u8]) -> Vec<u8> {
    [namespace.as_bytes(), b"\0", backend_key].concat()
}

/// The associated data of a part sealed for `owner` inside a record of `namespace`, at `context`: a part
/// opens only where it was made for, and never as a record.
pub(crate) fn part_aad(namespace: &str, owner: &[u8; HASH_LEN], context: &[u8]) -> Vec<u8> {
    [namespace.as_bytes(), b"\0part\0", &owner[..], context].concat()
}

/// The plaintext envelope.
pub(crate) fn encode(id: &[u8], value: &[u8], written_at_ms: u64) -> zeroize::Zeroizing<Vec<u8>> {
    let mut out = zeroize::Zeroizing::new(Vec::with_capacity(HEADER_LEN + id.len() + value.len()));
    out.push(ENVELOPE_V1);
    out.extend_from_slice(&written_at_ms.to_be_bytes());
    out.extend_from_slice(&u32::try_from(id.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(id);
    out.extend_from_slice(value);
    out
}

/// Parses an opened envelope.
pub(crate) fn decode(namespace: &str, raw: &[u8]) -> Result<Record, StoreError> {
    let bad = |reason: &str| StoreError::Unreadable { namespace: namespace.to_string(), reason: reason.into() };
    if raw.len() < HEADER_LEN || raw[0] != ENVELOPE_V1 {
        return Err(bad("unknown envelope version or truncated envelope"));
    }
    let written_at_ms = u64::from_be_bytes(raw[1..9].try_into().map_err(|_| bad("bad timestamp"))?);
    let id_len = u32::from_be_bytes(raw[9..13].try_into().map_err(|_| bad("bad id length"))?) as usize;
    let id_end = HEADER_LEN.checked_add(id_len).filter(|end| *end <= raw.len()).ok_or_else(|| bad("id overruns"))?;
    Ok(Record {
        id: raw[HEADER_LEN..id_end].to_vec(),
        value: zeroize::Zeroizing::new(raw[id_end..].to_vec()),
        written_at_ms,
    })
}

/// A short, non-identifying label of a backend key for reports (its last six bytes, from the id hash).
pub(crate) fn label(backend_key: &[u8]) -> String {
    backend_key.iter().rev().take(6).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Key;

    /// The pseudonym of a subject.
    fn subject_hash(index: &Key, subject: &Subject) -> [u8; HASH_LEN] {
        index.hash(&subject_input(subject))
    }

    /// The backend key of record `id` in `namespace` about the subject (or person) `hash`.
    fn record_key(index: &Key, namespace: &str, hash: Option<&[u8; HASH_LEN]>, id: &[u8]) -> Vec<u8> {
        record_key_of(hash, &index.hash(&id_input(namespace, id)))
    }

    #[test]
    fn envelope_round_trips_and_rejects_garbage() {
        let raw = encode(b"id-1", b"value", 42);
        let rec = decode("ns", &raw).unwrap();
        assert_eq!((rec.id.as_slice(), rec.value.as_slice(), rec.written_at_ms), (&b"id-1"[..], &b"value"[..], 42));
        assert!(matches!(decode("ns", &raw[..5]), Err(StoreError::Unreadable { .. })));
        let mut wrong_len = raw.to_vec();
        wrong_len[12] = 200;
        assert!(matches!(decode("ns", &wrong_len), Err(StoreError::Unreadable { .. })));
    }

    #[test]
    fn a_subjects_records_data_key_and_link_share_one_slot() {
        use super::super::keyring::{KEYRING, LINKS, SUBJECT_ENTRY};
        let index = Key::generate().unwrap();
        let hash = subject_hash(&index, &Subject::user(&crate::UserRef::new(crate::Platform::TELEGRAM, "42")));
        let record = record_key(&index, "notes", Some(&hash), b"n1");
        let data_key = [SUBJECT_ENTRY, &hash[..]].concat();
        for (tree, key) in [("notes", &record[..]), ("core.flows", &record[..]), (KEYRING, &data_key), (LINKS, &hash)] {
            assert_eq!(slot_of_key(tree, key), Slot::Subject(hash), "{tree}");
        }
        assert_eq!(slot_of_key("notes", &record_key(&index, "notes", None, b"n1")), Slot::Tree);
        assert_eq!(slot_of_key(KEYRING, b"index"), Slot::Tree);
        assert_eq!(slot_of_key("_meta", b"kcv"), Slot::Tree);
        // Prefixes that span subjects name no slot; a subject's tag names its own.
        assert_eq!(slot_of_prefix("notes", &[]), None);
        assert_eq!(slot_of_prefix("notes", &[1]), None);
        assert_eq!(slot_of_prefix("notes", &hash_tag(&hash)), Some(Slot::Subject(hash)));
        assert_eq!(slot_of_prefix("notes", &[0]), Some(Slot::Tree));
        assert_eq!(slot_of_prefix(KEYRING, b""), None);
        assert_eq!(slot_of_prefix(KEYRING, b"s:"), None);
        assert_eq!(slot_of_prefix(LINKS, b""), None);
    }

    #[test]
    fn keys_carry_no_identifier_and_group_by_subject() {
        let index = Key::generate().unwrap();
        let s = Subject::user(&crate::UserRef::new(crate::Platform::TELEGRAM, "123456789"));
        let hash = subject_hash(&index, &s);
        let k = record_key(&index, "notes", Some(&hash), b"chat-987654321");
        assert_eq!(k.len(), 1 + 2 * HASH_LEN);
        assert!(k.starts_with(&hash_tag(&hash)));
        assert_eq!(subject_of(&k), Some(subject_hash(&index, &s)));
        assert!(!k.windows(9).any(|w| w == b"123456789"));
    }
}
