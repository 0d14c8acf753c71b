//! Walking the chain: every entry must open, follow its predecessor by one, carry its predecessor's MAC and
//! its own correct MAC; the head must name the last entry.

use super::entry::{Entry, Head};
use super::{HEAD, MAC_PURPOSE, NAMESPACE, entry_id};
use crate::crypto::{ct_eq, hex};
use crate::store::{RecordKey, Store, StoreError};

/// The first problem found, naming the entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// Entry `seq` cannot be opened or decoded: its stored bytes were changed.
    Unreadable(u64),
    /// Entry `seq` is missing: it was removed.
    Missing(u64),
    /// Entry `seq`'s content does not match its MAC: it was changed or forged.
    Altered(u64),
    /// Entry `seq` does not follow the entry before it: entries were inserted or reordered.
    BrokenLink(u64),
    /// The head names entry `head` but the chain ends at `last`: entries were removed from the end, or
    /// added after it.
    Truncated {
        /// What the head says.
        head: u64,
        /// Where the chain ends.
        last: u64,
    },
    /// The head record itself was changed or removed.
    HeadAltered,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreadable(n) => write!(f, "entry {n} cannot be opened: its stored bytes were changed"),
            Self::Missing(n) => write!(f, "entry {n} is missing: it was removed"),
            Self::Altered(n) => write!(f, "entry {n} does not match its MAC: it was changed or forged"),
            Self::BrokenLink(n) => {
                write!(f, "entry {n} does not follow entry {}: entries were inserted or reordered", n - 1)
            }
            Self::Truncated { head, last } => {
                write!(
                    f,
                    "the chain ends at entry {last} but its head names entry {head}: entries were removed or appended"
                )
            }
            Self::HeadAltered => write!(f, "the chain head was changed or removed"),
        }
    }
}

async fn load<T: serde::de::DeserializeOwned>(store: &dyn Store, id: &[u8]) -> Result<Option<T>, ()> {
    match store.get(RecordKey { namespace: NAMESPACE, subject: None, id }).await {
        Ok(None) => Ok(None),
        Ok(Some(rec)) => serde_json::from_slice(&rec.value).map(Some).map_err(|_| ()),
        Err(_) => Err(()),
    }
}

/// Checks the chain in `store`; returns the first finding (empty when the chain is intact).
pub async fn verify(store: &dyn Store) -> Result<Vec<Finding>, StoreError> {
    let head: Option<Head> = load(store, HEAD).await.map_err(|()| StoreError::Unreadable {
        namespace: NAMESPACE.into(),
        reason: "the audit chain head cannot be opened".into(),
    })?;
    let Some(head) = head else {
        // No head: fine for an empty trail; with entries, the head was removed (or the tail cut with it).
        let any = !matches!(load::<Entry>(store, entry_id(1).as_bytes()).await, Ok(None));
        return Ok(if any { vec![Finding::HeadAltered] } else { Vec::new() });
    };
    let expected = hex(&store.keyed_hash(MAC_PURPOSE, &Head::canonical(head.seq, &head.mac))?);
    if !ct_eq(expected.as_bytes(), head.head_mac.as_bytes()) {
        return Ok(vec![Finding::HeadAltered]);
    }
    let mut prev_mac = String::new();
    let mut seq = 1;
    loop {
        let entry: Option<Entry> = match load(store, entry_id(seq).as_bytes()).await {
            Ok(e) => e,
            Err(()) => return Ok(vec![Finding::Unreadable(seq)]),
        };
        let Some(entry) = entry else { break };
        let mac = hex(&store.keyed_hash(MAC_PURPOSE, &entry.canonical())?);
        if !ct_eq(mac.as_bytes(), entry.mac.as_bytes()) {
            return Ok(vec![Finding::Altered(seq)]);
        }
        if entry.seq != seq || !ct_eq(entry.prev_mac.as_bytes(), prev_mac.as_bytes()) {
            return Ok(vec![Finding::BrokenLink(seq)]);
        }
        prev_mac = entry.mac;
        seq += 1;
    }
    let last = seq - 1;
    if last < head.seq {
        // A gap or a cut tail: is there anything after the hole?
        let mut later = false;
        for s in seq + 1..=head.seq {
            later |= !matches!(load::<Entry>(store, entry_id(s).as_bytes()).await, Ok(None));
        }
        return Ok(vec![if later { Finding::Missing(seq) } else { Finding::Truncated { head: head.seq, last } }]);
    }
    if last > head.seq || !ct_eq(prev_mac.as_bytes(), head.mac.as_bytes()) {
        return Ok(vec![Finding::Truncated { head: head.seq, last }]);
    }
    Ok(Vec::new())
}
