//! The journal of accepted events, and the deliveries already seen.
//!
//! An event an adapter acknowledged to its platform must not be lost by a crash. Before the acknowledgement,
//! the intake records the event here (sealed under its user's data key, in `core.journal`) and flushes; once
//! handled, the record is replaced by the replies still to send; once they are delivered, it is deleted. On
//! start, the dispatcher runs the events recorded and sends the replies recorded — each once.
//!
//! Deliveries the platform identifies (a Telegram update id, a Slack event id, a Discord interaction id) are
//! remembered in `core.seen` (under their keyed hash, for a day), so a repeated or replayed delivery is
//! dropped even after a restart. Deliveries of a numbered stream (Telegram's polling) are told apart by the
//! stream's highest accepted number instead, one record per stream, when this process has its store alone
//! (see the `marks` module).
//!
//! An event's replies are recorded only once they have waited [`RECORD_REPLIES_AFTER`] undelivered (or at
//! shutdown): most replies leave within milliseconds, and then the entry is simply deleted, one store write
//! saved per event. What is durable at a flush is the same as if every handled event were recorded at once,
//! except for events handled in the last [`RECORD_REPLIES_AFTER`] before it.
//!
//! What a crash can still do: an event whose handler had already run (and written its effects) when the
//! process died, but whose replies were not yet recorded and flushed, runs again. Handlers with effects ask
//! for step-up first (a fresh code, which a user does not give twice by accident) or write their effect last.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};

mod marks;

pub use marks::Written as MarksWritten;

use crate::event::{Event, UserRef};
use crate::reply::Reply;
use crate::store::{Durability, RecordKey, SharedStore, StoreError, Subject};

const JOURNAL: &str = "core.journal";
const SEEN: &str = "core.seen";

/// How long a delivery id is remembered: longer than any platform's retry or replay window.
pub const SEEN_FOR_MS: u64 = 24 * 3600 * 1000;

/// How long a handled event's replies may wait undelivered before they are recorded in its entry.
pub const RECORD_REPLIES_AFTER: Duration = Duration::from_millis(50);

/// One journaled event.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Entry {
    /// Its number (order of acceptance).
    pub seq: u64,
    /// The event as accepted.
    pub event: Event,
    /// Once handled: the replies still to deliver.
    #[serde(default)]
    pub replies: Option<Vec<Reply>>,
    /// When it was accepted (ms since the epoch; 0 in entries written before this was recorded): whoever
    /// takes it up later puts it in its conversation's line where it arrived, not at the end.
    #[serde(default)]
    pub accepted_ms: u64,
}

/// An entry as written: the same fields as [`Entry`], borrowed (no copy of the event or its replies).
#[derive(Serialize)]
struct Written<'a> {
    seq: u64,
    event: &'a Event,
    replies: Option<&'a [Reply]>,
    accepted_ms: u64,
}

/// Where an entry is: its number and its user (the record is filed under them), and whose journal holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ticket {
    /// The entry's number.
    pub seq: u64,
    /// Its user.
    pub user: UserRef,
    /// The journal of another replica it was taken over from (its entry-id prefix); `None`: this one's.
    pub adopted: Option<Arc<str>>,
    /// When the event was accepted (ms since the epoch).
    pub accepted_ms: u64,
}

impl Ticket {
    /// When the event arrived, on tokio's clock, given the wall clock's `now_ms` (an entry taken up later
    /// keeps its place in its conversation's order).
    pub fn arrived(&self, now_ms: u64) -> tokio::time::Instant {
        let ago = std::time::Duration::from_millis(now_ms.saturating_sub(self.accepted_ms));
        let now = tokio::time::Instant::now();
        if self.accepted_ms == 0 { now } else { now.checked_sub(ago).unwrap_or(now) }
    }
}

/// The journal over one store.
pub struct Journal {
    store: SharedStore,
    next: AtomicU64,
    /// What this replica's entry ids start with: `j` alone, or `j<replica>.` when replicas share the store.
    prefix: String,
    /// Handled events whose replies are not recorded yet.
    unrecorded: Arc<Unrecorded>,
    /// The highest number accepted from each numbered stream.
    marks: marks::Marks,
}

/// Handled events whose replies wait to be recorded, by entry id.
#[derive(Default)]
struct Unrecorded {
    waiting: Mutex<Waiting>,
    /// Held while replies are recorded: an entry being recorded is deleted only after its record is written
    /// (or it would come back, and its replies be sent again at the next start).
    writing: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Waiting {
    entries: HashMap<String, Late>,
    /// Whether a task records them when they are due.
    recorder: bool,
}

/// An entry as it is to be recorded.
struct Late {
    due: tokio::time::Instant,
    subject: Subject,
    bytes: zeroize::Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").finish_non_exhaustive()
    }
}

/// What the entry ids of `replica` start with: `j` alone, or `j<replica>.` when replicas share the store.
fn prefix_of(replica: &str) -> String {
    if replica.is_empty() { "j".to_string() } else { format!("j{replica}.") }
}

/// Whether `id` is `prefix` followed by an entry number.
fn numbered(id: &[u8], prefix: &str) -> bool {
    id.strip_prefix(prefix.as_bytes()).is_some_and(|s| s.iter().all(u8::is_ascii_digit))
}

fn codec(e: &serde_json::Error) -> StoreError {
    StoreError::Codec { namespace: JOURNAL.into(), reason: e.to_string() }
}

/// Writes the entry `id` about `subject` (not flushed).
async fn write(store: &SharedStore, subject: &Subject, id: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let at = RecordKey { namespace: JOURNAL, subject: Some(subject), id: id.as_bytes() };
    store.put(at, bytes, Durability::Batched).await
}

/// Records the waiting entries due by `by` (all of them: `None`).
async fn record(store: &SharedStore, unrecorded: &Unrecorded, by: Option<tokio::time::Instant>) {
    let _writing = unrecorded.writing.lock().await;
    let due: Vec<(String, Late)> = {
        let mut waiting = unrecorded.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        waiting.entries.extract_if(|_, l| by.is_none_or(|by| l.due <= by)).collect()
    };
    for (id, late) in due {
        if let Err(error) = write(store, &late.subject, &id, &late.bytes).await {
            tracing::error!(%error, "could not record an event's replies; a restart may handle it again");
        }
    }
}

/// Records waiting entries as they fall due, until none is left or the store is closed (it holds the store
/// only while writing, so a stopped bot's store closes at once).
async fn record_when_due(store: std::sync::Weak<dyn crate::store::Store>, unrecorded: Arc<Unrecorded>) {
    loop {
        let next = {
            let mut waiting = unrecorded.waiting.lock().unwrap_or_else(PoisonError::into_inner);
            let next = waiting.entries.values().map(|l| l.due).min();
            if next.is_none() {
                waiting.recorder = false;
            }
            next
        };
        let Some(next) = next else { return };
        tokio::time::sleep_until(next).await;
        let Some(store) = store.upgrade() else {
            unrecorded.waiting.lock().unwrap_or_else(PoisonError::into_inner).recorder = false;
            return;
        };
        record(&store, &unrecorded, Some(tokio::time::Instant::now())).await;
    }
}

impl Journal {
    /// The journal in `store`, numbering after the entries it holds (see [`Journal::recover`]). `replica`
    /// names this process among replicas sharing the store (empty: the only one): each replica numbers,
    /// files and recovers its own entries.
    pub fn new(store: SharedStore, replica: &str) -> Self {
        Self {
            store,
            next: AtomicU64::new(1),
            prefix: prefix_of(replica),
            unrecorded: Arc::default(),
            marks: marks::Marks::default(),
        }
    }

    fn id(&self, ticket: &Ticket) -> String {
        format!("{}{:016}", ticket.adopted.as_deref().unwrap_or(&self.prefix), ticket.seq)
    }

    /// Whether the entry `id` is this replica's: under its own name, or unnamed (written before the process
    /// had a replica name; a shared store never has those, since it requires names).
    fn owns(&self, id: &[u8]) -> bool {
        numbered(id, &self.prefix) || numbered(id, "j")
    }

    async fn put(&self, entry: &Written<'_>, ticket: &Ticket) -> Result<(), StoreError> {
        let subject = Subject::user(&entry.event.user);
        let bytes = zeroize::Zeroizing::new(serde_json::to_vec(entry).map_err(|e| codec(&e))?);
        write(&self.store, &subject, &self.id(ticket), &bytes).await
    }

    /// Records an event accepted at `now_ms` (not flushed: the intake flushes once for a batch of events).
    pub async fn accept(&self, event: &Event, now_ms: u64) -> Result<Ticket, StoreError> {
        let seq = self.next.fetch_add(1, Ordering::SeqCst);
        let ticket = Ticket { seq, user: event.user.clone(), adopted: None, accepted_ms: now_ms };
        self.put(&Written { seq, event, replies: None, accepted_ms: now_ms }, &ticket).await?;
        Ok(ticket)
    }

    /// Notes that the event was handled and what is left to deliver: recorded in its entry if the replies
    /// are still undelivered [`RECORD_REPLIES_AFTER`] from now, or at [`Journal::settle`].
    pub fn handled(&self, ticket: &Ticket, event: &Event, replies: &[Reply]) -> Result<(), StoreError> {
        debug_assert_eq!(ticket.user, event.user);
        let entry = Written { seq: ticket.seq, event, replies: Some(replies), accepted_ms: ticket.accepted_ms };
        let bytes = zeroize::Zeroizing::new(serde_json::to_vec(&entry).map_err(|e| codec(&e))?);
        let late = Late {
            due: tokio::time::Instant::now() + RECORD_REPLIES_AFTER,
            subject: Subject::user(&event.user),
            bytes,
        };
        let mut waiting = self.unrecorded.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        waiting.entries.insert(self.id(ticket), late);
        if !waiting.recorder {
            waiting.recorder = true;
            tokio::spawn(record_when_due(Arc::downgrade(&self.store), self.unrecorded.clone()));
        }
        Ok(())
    }

    /// Records the replies of every handled event still waiting to be delivered, due or not (at shutdown:
    /// the next start sends them). Not flushed.
    pub async fn settle(&self) {
        record(&self.store, &self.unrecorded, None).await;
    }

    /// Drops the entry: its replies were delivered (or it was dropped on purpose).
    pub async fn done(&self, ticket: &Ticket) {
        let subject = Subject::user(&ticket.user);
        let key = self.id(ticket);
        {
            // Not recorded yet: it never will be. Being recorded: deleted once written.
            let _writing = self.unrecorded.writing.lock().await;
            self.unrecorded.waiting.lock().unwrap_or_else(PoisonError::into_inner).entries.remove(&key);
        }
        let at = RecordKey { namespace: JOURNAL, subject: Some(&subject), id: key.as_bytes() };
        if let Err(error) = self.store.delete(at, Durability::Batched).await {
            tracing::error!(%error, "could not clear a journal entry; it may be handled again after a restart");
        }
    }

    /// Every entry left by an earlier run, oldest first, with its ticket; numbering continues after them.
    pub async fn recover(&self) -> Result<Vec<(Entry, Ticket)>, StoreError> {
        let entries = self.entries(|id| self.owns(id), None).await?;
        let last = entries.last().map_or(0, |(e, _)| e.seq);
        self.next.fetch_max(last + 1, Ordering::SeqCst);
        Ok(entries)
    }

    /// Every entry in the journal of replica `replica` (which died: this process took its name over),
    /// oldest first, with tickets that clear them there.
    pub async fn adopt(&self, replica: &str) -> Result<Vec<(Entry, Ticket)>, StoreError> {
        let prefix = prefix_of(replica);
        let adopted: Arc<str> = prefix.as_str().into();
        self.entries(|id| numbered(id, &prefix), Some(adopted)).await
    }

    async fn entries(
        &self,
        wanted: impl Fn(&[u8]) -> bool,
        adopted: Option<Arc<str>>,
    ) -> Result<Vec<(Entry, Ticket)>, StoreError> {
        let mut entries: Vec<(Entry, Ticket)> = Vec::new();
        for record in self.store.scan(JOURNAL).await?.into_iter().filter(|r| wanted(&r.id)) {
            match serde_json::from_slice::<Entry>(&record.value) {
                Ok(entry) => {
                    let ticket = Ticket {
                        seq: entry.seq,
                        user: entry.event.user.clone(),
                        adopted: adopted.clone(),
                        accepted_ms: entry.accepted_ms,
                    };
                    entries.push((entry, ticket));
                }
                Err(error) => tracing::error!(%error, "a journal entry cannot be read; it is skipped"),
            }
        }
        entries.sort_by_key(|(e, _)| e.seq);
        Ok(entries)
    }

    /// Claims `delivery` at `now_ms`: `true` the first time it is seen, `false` for a repeat still
    /// remembered. Atomic across replicas sharing the store: of two replicas handed the same delivery at once,
    /// exactly one gets `true`. Not flushed: the intake flushes once for a batch.
    pub async fn claim(&self, delivery: &str, now_ms: u64) -> Result<bool, StoreError> {
        let at = || RecordKey { namespace: SEEN, subject: None, id: delivery.as_bytes() };
        if self.store.create(at(), b"", Durability::Batched).await? {
            return Ok(true);
        }
        // Remembered — unless only an expired record the sweep has not removed yet is left.
        if self.store.get(at()).await?.is_some_and(|r| r.written_at_ms + SEEN_FOR_MS > now_ms) {
            return Ok(false);
        }
        self.store.put(at(), b"", Durability::Batched).await?;
        Ok(true)
    }

    /// Whether deliveries of numbered streams are told apart by their stream's mark (one process on its
    /// store) rather than by their ids (replicas sharing a store claim each id).
    pub fn marks_streams(&self) -> bool {
        !self.store.shared()
    }

    /// Claims delivery `number` of `stream` at `now_ms`: `Some(previous mark)` when it is new (hand that to
    /// [`Journal::release_numbered`] if it is not accepted after all), `None` for a repeat.
    pub async fn claim_numbered(&self, stream: &str, number: u64, now_ms: u64) -> Result<Option<u64>, StoreError> {
        self.marks.claim(&self.store, stream, number, now_ms).await
    }

    /// Puts the mark of `stream` back to `previous`: the delivery claimed with it was not accepted.
    pub fn release_numbered(&self, stream: &str, previous: u64) {
        self.marks.release(stream, previous);
    }

    /// Writes the marks that moved (not flushed), returning what to give [`Journal::undo_marks`] if the
    /// flush fails.
    pub async fn write_marks(&self, now_ms: u64) -> (MarksWritten, Result<(), StoreError>) {
        self.marks.write(&self.store, now_ms).await
    }

    /// Takes the marks back to where they were before the batch: it was not accepted.
    pub async fn undo_marks(&self, written: MarksWritten) {
        self.marks.undo(&self.store, written).await;
        self.marks.reset();
    }

    /// Forgets a claimed delivery that was not accepted after all (recording it failed).
    pub async fn release(&self, delivery: &str) -> Result<(), StoreError> {
        let at = RecordKey { namespace: SEEN, subject: None, id: delivery.as_bytes() };
        self.store.delete(at, Durability::Batched).await.map(drop)
    }

    /// Makes every record so far durable (one flush for a batch of accepted events).
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.store.flush().await
    }
}
