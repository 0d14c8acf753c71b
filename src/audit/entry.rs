//! One audit entry and its canonical bytes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use palisade_core::services::Outcome;

use crate::event::Platform;
use crate::store::StoreError;

/// One entry of the trail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Position in the chain, from 1, without gaps.
    pub seq: u64,
    /// When, ms since the epoch.
    pub at_ms: u64,
    /// What happened (`stepup.verify`, `privacy.erase`, `config.loaded`).
    pub event: String,
    /// Pseudonym of who did it (keyed hash, not reversible without the store's keys).
    pub actor: Option<String>,
    /// Where.
    pub platform: Option<Platform>,
    /// How it ended.
    pub outcome: Outcome,
    /// Non-secret details.
    pub details: BTreeMap<String, String>,
    /// The previous entry's MAC (empty for the first).
    pub prev_mac: String,
    /// MAC over this entry's canonical bytes (which include `prev_mac`).
    pub mac: String,
}

impl Entry {
    /// The bytes the MAC covers: every field but `mac`, length-prefixed so no two entries share them.
    pub fn canonical(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut field = |b: &[u8]| {
            out.extend_from_slice(&(b.len() as u64).to_be_bytes());
            out.extend_from_slice(b);
        };
        field(&self.seq.to_be_bytes());
        field(&self.at_ms.to_be_bytes());
        field(self.event.as_bytes());
        field(self.actor.as_deref().unwrap_or("").as_bytes());
        field(self.platform.map_or("", |p| p.as_str()).as_bytes());
        field(format!("{:?}", self.outcome).as_bytes());
        for (k, v) in &self.details {
            field(k.as_bytes());
            field(v.as_bytes());
        }
        field(self.prev_mac.as_bytes());
        out
    }
}

/// The chain head: last sequence number and MAC, MACed itself so truncation shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Head {
    pub seq: u64,
    pub mac: String,
    pub head_mac: String,
}

impl Head {
    pub(crate) fn canonical(seq: u64, mac: &str) -> Vec<u8> {
        [&b"head\0"[..], &seq.to_be_bytes(), mac.as_bytes()].concat()
    }

    pub(crate) fn new(
        seq: u64,
        mac: String,
        keyed: impl Fn(&[u8]) -> Result<[u8; 32], StoreError>,
    ) -> Result<Self, StoreError> {
        let head_mac = crate::crypto::hex(&keyed(&Self::canonical(seq, &mac))?);
        Ok(Self { seq, mac, head_mac })
    }
}
