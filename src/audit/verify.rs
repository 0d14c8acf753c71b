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
    /// The chain ends before an entry known to exist: the store's anchor (or the operator, with
    /// `--expect-seq`) knows of entry `expected`, the chain's head is entry `head`. The trail was cut, or
    /// the store replaced by an older copy.
    Behind {
        /// The entry known to exist.
        expected: u64,
        /// Where the chain's head is.
        head: u64,
        /// Who knows: "the store's anchor" or "--expect-seq".
        source: &'static str,
    },
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
            Self::Behind { expected, head, source } => write!(
                f,
                "the chain ends at entry {head} but {source} knows of entry {expected}: the trail was cut or the store replaced by an older copy"
            ),
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

/// Checks the chain in `store`; returns the first finding (empty when the chain is intact). The chain must
/// also reach the head the store's anchor recorded, and entry `expect_seq` when given.
pub async fn verify(store: &dyn Store, expect_seq: Option<u64>) -> Result<Vec<Finding>, StoreError> {
    let findings = walk(store).await?;
    if !findings.is_empty() {
        return Ok(findings);
    }
    let head: Option<Head> = load(store, HEAD).await.unwrap_or(None);
    let (seq, head_mac) = head.map(|h| (h.seq, h.head_mac)).unwrap_or_default();
    if let Some((anchored, mac)) = store.anchored_audit_head() {
        if seq < anchored {
            return Ok(vec![Finding::Behind { expected: anchored, head: seq, source: "the store's anchor" }]);
        }
        if seq == anchored && !ct_eq(mac.as_bytes(), head_mac.as_bytes()) {
            return Ok(vec![Finding::HeadAltered]);
        }
    }
    if let Some(expected) = expect_seq.filter(|n| seq < *n) {
        return Ok(vec![Finding::Behind { expected, head: seq, source: "--expect-seq" }]);
    }
    Ok(Vec::new())
}

/// Walks the chain from entry 1 to the head.
async fn walk(store: &dyn Store) -> Result<Vec<Finding>, StoreError> {
    let head: Option<Head> = load(store, HEAD).await.map_err(|()| StoreError::Unreadable {
        namespace: NAMESPACE.into(),
        reason: "the audit chain head cannot be opened".into(),
    })?;
    let Some(head) = head else {
        // No head: fine for an empty trail; with any entry left, the head was removed (or the tail cut with
        // it). Every record of the trail is looked at, not only the first.
        let any = store.list(NAMESPACE, None).await.map(|all| !all.is_empty()).unwrap_or(true)
            || !matches!(load::<Entry>(store, entry_id(1).as_bytes()).await, Ok(None));
        return Ok(if any { vec![Finding::HeadAltered] } else { Vec::new() });
    };
    let expected = hex(&store.keyed_hash(MAC_PURPOSE, &Head::canonical(head.seq, &head.mac))?);
    if !ct_eq(expected.as_bytes(), head.head_mac.as_bytes()) {
        return Ok(vec![Finding::HeadAltered]);
    }
    let mut prev_mac = String::new();
    let mut seq = 1;
    // The MAC of the entry the head names, once the walk passed it.
    let mut at_head: Option<String> = None;
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
        if seq == head.seq {
            at_head = Some(entry.mac.clone());
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
    // Whole, linked entries past the head are an append caught between its entry and its head (a crash, or
    // a backup taken in between): the next append adopts them, so the chain is whole. Only a head that does
    // not name the entry at its number is a finding.
    let named = if last > head.seq { at_head.as_deref().unwrap_or_default() } else { prev_mac.as_str() };
    if !ct_eq(named.as_bytes(), head.mac.as_bytes()) {
        return Ok(vec![Finding::Truncated { head: head.seq, last }]);
    }
    Ok(Vec::new())
}
