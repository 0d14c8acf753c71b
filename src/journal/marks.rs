//! The highest delivery number accepted from each numbered stream ([`palisade_core::adapter::Numbered`]).
//!
//! A stream whose deliveries arrive in increasing order (Telegram's `getUpdates`) needs no record per
//! delivery to tell a repeat: one number per stream does, written once for a batch of accepted events (in
//! `core.seen`, sealed like every record). A mark not written for [`super::SEEN_FOR_MS`] is forgotten, as
//! delivery ids are: Telegram may number afresh after a long quiet spell.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::store::{Durability, RecordKey, SharedStore, StoreError};

use super::{SEEN, SEEN_FOR_MS};

/// A stream's mark.
#[derive(Clone, Copy, Debug)]
struct Mark {
    /// The highest number accepted.
    high: u64,
    /// The number in the store, and when it was written (ms since the epoch).
    stored: u64,
    at_ms: u64,
}

/// What [`super::Journal::write_marks`] changed: handed back to [`super::Journal::undo_marks`] when the flush after it
/// fails.
#[derive(Debug, Default)]
#[must_use]
pub struct Written(Vec<(String, Mark)>);

/// The marks of every stream seen.
#[derive(Debug, Default)]
pub struct Marks {
    marks: Mutex<HashMap<String, Mark>>,
}

/// The id of `stream`'s mark record.
fn record_id(stream: &str) -> String {
    format!("order:{stream}")
}

/// Where the mark record `id` is.
fn at(id: &str) -> RecordKey<'_> {
    RecordKey { namespace: SEEN, subject: None, id: id.as_bytes() }
}

async fn put(store: &SharedStore, stream: &str, number: u64) -> Result<(), StoreError> {
    store.put(at(&record_id(stream)), number.to_string().as_bytes(), Durability::Batched).await
}

impl Marks {
    /// The mark of `stream` at `now_ms`, read from the store the first time.
    async fn mark(&self, store: &SharedStore, stream: &str, now_ms: u64) -> Result<Mark, StoreError> {
        let known = self.marks.lock().unwrap_or_else(PoisonError::into_inner).get(stream).copied();
        let mark = match known {
            Some(mark) => mark,
            None => {
                let mark = match store.get(at(&record_id(stream))).await? {
                    Some(record) => {
                        let number = std::str::from_utf8(&record.value).ok().and_then(|v| v.parse().ok());
                        let number = number.ok_or_else(|| StoreError::Codec {
                            namespace: SEEN.into(),
                            reason: format!("the mark of stream {stream} is not a number"),
                        })?;
                        Mark { high: number, stored: number, at_ms: record.written_at_ms }
                    }
                    None => Mark { high: 0, stored: 0, at_ms: now_ms },
                };
                self.marks.lock().unwrap_or_else(PoisonError::into_inner).insert(stream.to_string(), mark);
                mark
            }
        };
        // Quiet for longer than deliveries are remembered: the stream may number afresh, and its mark counts
        // as never written (so the next one is written, whatever its number).
        let quiet = mark.at_ms + SEEN_FOR_MS <= now_ms && mark.high == mark.stored;
        Ok(if quiet { Mark { high: 0, stored: 0, ..mark } } else { mark })
    }

    /// Claims `number` of `stream`: the mark before it when it is above the mark (it is then the mark),
    /// `None` for a repeat.
    pub async fn claim(
        &self,
        store: &SharedStore,
        stream: &str,
        number: u64,
        now_ms: u64,
    ) -> Result<Option<u64>, StoreError> {
        let mark = self.mark(store, stream, now_ms).await?;
        if number <= mark.high {
            return Ok(None);
        }
        self.marks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(stream.to_string(), Mark { high: number, ..mark });
        Ok(Some(mark.high))
    }

    /// Puts the mark of `stream` back to `previous` (what [`Marks::claim`] returned): its delivery was not
    /// accepted after all.
    pub fn release(&self, stream: &str, previous: u64) {
        if let Some(mark) = self.marks.lock().unwrap_or_else(PoisonError::into_inner).get_mut(stream) {
            mark.high = previous;
        }
    }

    /// Writes the marks that moved (not flushed: the intake flushes them with the batch's entries).
    ///
    /// Returns the marks written (for [`Marks::undo`]) and, when the store refused a write, its error: the
    /// marks after it were not written.
    pub async fn write(&self, store: &SharedStore, now_ms: u64) -> (Written, Result<(), StoreError>) {
        let moved: Vec<(String, Mark)> = self
            .marks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(_, m)| m.high != m.stored)
            .map(|(s, m)| (s.clone(), *m))
            .collect();
        let mut written = Written::default();
        for (stream, before) in moved {
            if let Err(error) = put(store, &stream, before.high).await {
                return (written, Err(error));
            }
            if let Some(mark) = self.marks.lock().unwrap_or_else(PoisonError::into_inner).get_mut(&stream) {
                mark.stored = before.high;
                mark.at_ms = now_ms;
            }
            written.0.push((stream, before));
        }
        (written, Ok(()))
    }

    /// Takes back what [`Marks::write`] wrote: the flush after it failed, and the batch's deliveries will
    /// come again.
    pub async fn undo(&self, store: &SharedStore, written: Written) {
        for (stream, before) in written.0 {
            self.marks
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(stream.clone(), Mark { high: before.stored, ..before });
            if let Err(error) = put(store, &stream, before.stored).await {
                tracing::warn!(%error, "could not take back a delivery mark; the deliveries it covers may be dropped when they come again");
            }
        }
    }

    /// Puts every moved mark back where the store has it (the batch was refused before it was written).
    pub fn reset(&self) {
        for mark in self.marks.lock().unwrap_or_else(PoisonError::into_inner).values_mut() {
            mark.high = mark.stored;
        }
    }
}
