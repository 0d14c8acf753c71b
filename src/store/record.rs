//! Maps records (namespace, subject, id, value) onto a raw [`Backend`].
//!
//! Layout: one backend tree per namespace; the backend key is a subject tag followed by the record id, so one
//! prefix scan finds everything about a subject; the stored value is a small versioned envelope carrying the
//! write time and the id, so a record can be listed without parsing its key.

use std::sync::Arc;

use zeroize::Zeroizing;

use super::backend::Backend;
use super::{Durability, NamespaceStats, Record, RecordKey, Store, StoreError, Subject};
use crate::clock::SharedClock;

const ENVELOPE_V1: u8 = 1;
const HEADER_LEN: usize = 1 + 8 + 4;

/// The [`Store`] implementation over any [`Backend`].
pub struct RecordStore {
    backend: Arc<dyn Backend>,
    clock: SharedClock,
}

impl std::fmt::Debug for RecordStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordStore").finish_non_exhaustive()
    }
}

impl RecordStore {
    /// A store over `backend`, stamping writes with `clock`.
    pub fn new(backend: Arc<dyn Backend>, clock: SharedClock) -> Self {
        Self { backend, clock }
    }
}

/// Checks a namespace name: 1-64 characters from `a-z0-9_-.`.
pub(crate) fn check_namespace(ns: &str) -> Result<(), StoreError> {
    let ok = (1..=64).contains(&ns.len())
        && ns
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Namespace(ns.to_string()))
    }
}

fn subject_tag(subject: Option<&Subject>) -> Vec<u8> {
    match subject {
        None => vec![0],
        Some(s) => {
            let bytes = s.as_str().as_bytes();
            let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
            let mut tag = Vec::with_capacity(3 + bytes.len());
            tag.push(1);
            tag.extend_from_slice(&len.to_be_bytes());
            tag.extend_from_slice(&bytes[..usize::from(len)]);
            tag
        }
    }
}

fn backend_key(key: &RecordKey<'_>) -> Vec<u8> {
    let mut k = subject_tag(key.subject);
    k.extend_from_slice(key.id);
    k
}

fn encode(id: &[u8], value: &[u8], written_at_ms: u64) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(HEADER_LEN + id.len() + value.len()));
    out.push(ENVELOPE_V1);
    out.extend_from_slice(&written_at_ms.to_be_bytes());
    out.extend_from_slice(&u32::try_from(id.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(id);
    out.extend_from_slice(value);
    out
}

fn decode(namespace: &str, raw: &[u8]) -> Result<Record, StoreError> {
    let bad = |reason: &str| StoreError::Unreadable {
        namespace: namespace.to_string(),
        reason: reason.into(),
    };
    if raw.len() < HEADER_LEN {
        return Err(bad("envelope too short"));
    }
    if raw[0] != ENVELOPE_V1 {
        return Err(bad("unknown envelope version"));
    }
    let written_at_ms = u64::from_be_bytes(raw[1..9].try_into().map_err(|_| bad("bad timestamp"))?);
    let id_len = u32::from_be_bytes(raw[9..13].try_into().map_err(|_| bad("bad id length"))?);
    let id_end = HEADER_LEN
        .checked_add(id_len as usize)
        .filter(|end| *end <= raw.len())
        .ok_or_else(|| bad("id overruns envelope"))?;
    Ok(Record {
        id: raw[HEADER_LEN..id_end].to_vec(),
        value: Zeroizing::new(raw[id_end..].to_vec()),
        written_at_ms,
    })
}

impl RecordStore {
    fn decode_all(&self, namespace: &str, prefix: &[u8]) -> Result<(Vec<Record>, u64), StoreError> {
        let mut unreadable = 0;
        let mut records = Vec::new();
        for (_, raw) in self.backend.scan_prefix(namespace, prefix)? {
            match decode(namespace, &raw) {
                Ok(r) => records.push(r),
                Err(e) => {
                    unreadable += 1;
                    tracing::warn!(namespace, error = %e, "skipping unreadable record");
                }
            }
        }
        Ok((records, unreadable))
    }

    fn durable(&self, durability: Durability) -> Result<(), StoreError> {
        match durability {
            Durability::Flushed => self.backend.flush(),
            Durability::Batched => Ok(()),
        }
    }
}

impl Store for RecordStore {
    fn put(&self, key: RecordKey<'_>, value: &[u8], durability: Durability) -> Result<(), StoreError> {
        check_namespace(key.namespace)?;
        let envelope = encode(key.id, value, self.clock.now_ms());
        self.backend.insert(key.namespace, &backend_key(&key), &envelope)?;
        self.durable(durability)
    }

    fn get(&self, key: RecordKey<'_>) -> Result<Option<Record>, StoreError> {
        check_namespace(key.namespace)?;
        let raw = self.backend.get(key.namespace, &backend_key(&key))?.map(Zeroizing::new);
        raw.map(|raw| decode(key.namespace, &raw)).transpose()
    }

    fn delete(&self, key: RecordKey<'_>, durability: Durability) -> Result<bool, StoreError> {
        check_namespace(key.namespace)?;
        let existed = self.backend.remove(key.namespace, &backend_key(&key))?;
        self.durable(durability)?;
        Ok(existed)
    }

    fn list(&self, namespace: &str, subject: Option<&Subject>) -> Result<Vec<Record>, StoreError> {
        check_namespace(namespace)?;
        Ok(self.decode_all(namespace, &subject_tag(subject))?.0)
    }

    fn scan(&self, namespace: &str) -> Result<Vec<Record>, StoreError> {
        check_namespace(namespace)?;
        Ok(self.decode_all(namespace, &[])?.0)
    }

    fn erase_subject(&self, subject: &Subject) -> Result<u64, StoreError> {
        let tag = subject_tag(Some(subject));
        let mut erased = 0;
        for tree in self.backend.trees()? {
            for (key, _) in self.backend.scan_prefix(&tree, &tag)? {
                erased += u64::from(self.backend.remove(&tree, &key)?);
            }
        }
        self.backend.flush()?;
        Ok(erased)
    }

    fn stats(&self) -> Result<Vec<NamespaceStats>, StoreError> {
        self.backend
            .trees()?
            .into_iter()
            .map(|namespace| {
                let (records, unreadable) = self.decode_all(&namespace, &[])?;
                Ok(NamespaceStats {
                    records: records.len() as u64,
                    unreadable,
                    namespace,
                })
            })
            .collect()
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.backend.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_round_trips_and_rejects_garbage() {
        let raw = encode(b"id-1", b"value", 42);
        let rec = decode("ns", &raw).unwrap();
        assert_eq!(
            (rec.id.as_slice(), rec.value.as_slice(), rec.written_at_ms),
            (&b"id-1"[..], &b"value"[..], 42)
        );
        assert!(matches!(decode("ns", &raw[..5]), Err(StoreError::Unreadable { .. })));
        let mut wrong_len = raw.to_vec();
        wrong_len[12] = 200;
        assert!(matches!(decode("ns", &wrong_len), Err(StoreError::Unreadable { .. })));
    }

    #[test]
    fn namespaces_are_checked() {
        assert!(check_namespace("core.flows").is_ok());
        for bad in ["", "Notes", "a/b", &"x".repeat(65)] {
            assert!(check_namespace(bad).is_err(), "{bad}");
        }
    }
}
