//! The journal of accepted events, and the deliveries already seen.
//!
//! An event an adapter acknowledged to its platform must not be lost by a crash. Before the acknowledgement,
//! the intake records the event here (in `core.journal`) and flushes; once handled, what is left of it is the
//! replies still to send; once they are delivered, it is gone. On start, the dispatcher runs the events
//! recorded and sends the replies recorded — each once.
//!
//! The events of one intake batch are written as one record (the `batch` module): each event sealed under its
//! own person's data key inside it, so an erasure shreds a pending event as it shreds a record. One write for
//! the batch and one delete once every event in it is done, instead of one of each per event. A batch still
//! open [`RECORD_REPLIES_AFTER`] after it was written is taken apart: its events still open become records of
//! their own (`j…<seq>`, under their user), and the batch record is deleted.
//!
//! Deliveries the platform identifies (a Telegram update id, a Slack event id, a Discord interaction id) are
//! remembered in `core.seen` (under their keyed hash, for a day), so a repeated or replayed delivery is
//! dropped even after a restart. Deliveries of a numbered stream (Telegram's polling) are told apart by the
//! stream's highest accepted number instead, one record per stream, when this process has its store alone
//! (see the `marks` module).
//!
//! An event's replies are recorded only once they have waited [`RECORD_REPLIES_AFTER`] undelivered (or at
//! shutdown): most replies leave within milliseconds, and then nothing more is written for the event. What is
//! durable at a flush is the same as if every handled event were recorded at once, except for events handled
//! in the last [`RECORD_REPLIES_AFTER`] before it.
//!
//! What a crash can still do: an event whose handler had already run (and written its effects) when the
//! process died, but whose replies were not yet recorded and flushed, runs again. Handlers with effects ask
//! for step-up first (a fresh code, which a user does not give twice by accident) or write their effect last.
//! An event whose person links another identity while it is still in a batch record (the link retires the
//! data key its part was sealed under) cannot be read back from it: it is not taken up at the next start if
//! the process dies before the event is done, and its replies are not recorded if they are late (each logged).
//! An event whose person is erased while it is in a batch record is gone with the rest of their data: it is
//! never written again under them.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};

mod batch;
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
    /// The batch record it was written in (the batch's number), while that holds it.
    pub batch: Option<u64>,
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
    prefix: Arc<str>,
    /// Events accepted since the last flush: written as one batch record by it.
    staged: Mutex<batch::Batch>,
    /// Handled events whose replies are not recorded yet, and batch records still holding open events.
    unrecorded: Arc<Unrecorded>,
    /// The highest number accepted from each numbered stream.
    marks: marks::Marks,
}

/// What waits to be written later, by the recorder.
#[derive(Default)]
struct Unrecorded {
    waiting: Mutex<Waiting>,
    /// Held while replies are recorded or batches taken apart: an entry being recorded is deleted only after
    /// its record is written (or it would come back, and its replies be sent again at the next start).
    writing: tokio::sync::Mutex<()>,
}

/// Where an entry or a batch record is, without formatting its id: the prefix of its journal's ids and its
/// number.
type At = (Arc<str>, u64);

#[derive(Default)]
struct Waiting {
    /// Handled events' replies, by entry.
    entries: HashMap<At, Late>,
    /// Batch records written and not deleted yet.
    batches: HashMap<At, Open>,
    /// Whether a task records them when they are due.
    recorder: bool,
}

/// A handled event whose replies are to be recorded (serialised only then: most never are). Its event is not
/// kept here: when recorded, it is read from the entry as written, sealed in its open batch record or, once
/// that was taken apart, stored on its own.
struct Late {
    due: tokio::time::Instant,
    user: UserRef,
    replies: Vec<Reply>,
    /// The event's number and the number of the batch record holding it, if one does.
    seq: u64,
    batch: Option<u64>,
}

impl Late {
    /// Writes its entry `id`, replies included (not flushed), given its part in its batch record (`None`:
    /// the entry is stored on its own).
    async fn write(self, store: &SharedStore, id: &str, part: Option<Vec<u8>>) -> Result<(), StoreError> {
        let subject = Subject::user(&self.user);
        let written = match part {
            Some(part) => open_part(store, id, self.seq, &part).await?.1,
            None => {
                let at = RecordKey { namespace: JOURNAL, subject: Some(&subject), id: id.as_bytes() };
                let record = store.get(at).await?.ok_or_else(|| StoreError::Unreadable {
                    namespace: JOURNAL.into(),
                    reason: format!("entry {id} is no longer stored (its person was erased)"),
                })?;
                record.value
            }
        };
        let mut entry: Entry = serde_json::from_slice(&written).map_err(|e| codec(&e))?;
        entry.replies = Some(self.replies);
        write(store, &subject, id, &to_json(&entry)?).await
    }
}

/// A batch record still holding events neither done nor recorded on their own.
struct Open {
    /// When what is still open in it becomes records of their own.
    due: tokio::time::Instant,
    /// The record as written.
    bytes: Vec<u8>,
    /// Its open events by number: where their parts are in it.
    parts: HashMap<u64, Range<usize>>,
}

impl Open {
    /// The batch written as `batch`, its events all open, due to be taken apart [`RECORD_REPLIES_AFTER`]
    /// from now.
    fn new(batch: batch::Batch) -> Self {
        let parts = batch.frames.into_iter().map(|f| (f.seq, f.part)).collect();
        Self { due: tokio::time::Instant::now() + RECORD_REPLIES_AFTER, bytes: batch.bytes, parts }
    }

    /// The part at `range` of the record.
    fn part(&self, range: &Range<usize>) -> &[u8] {
        batch::part_at(&self.bytes, range)
    }

    /// Takes event `seq` out: its part, if it was open here.
    fn take(&mut self, seq: u64) -> Option<Vec<u8>> {
        self.parts.remove(&seq).map(|range| self.part(&range).to_vec())
    }
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").finish_non_exhaustive()
    }
}

/// What the entry ids of `replica` start with: `j` alone, or `j<replica>.` when replicas share the store.
fn prefix_of(replica: &str) -> Arc<str> {
    if replica.is_empty() { "j".into() } else { format!("j{replica}.").into() }
}

/// Whether `id` is `prefix` followed by an entry number.
fn numbered(id: &[u8], prefix: &str) -> bool {
    id.strip_prefix(prefix.as_bytes()).is_some_and(|s| s.iter().all(u8::is_ascii_digit))
}

/// The id of entry `seq` in the journal whose ids start with `prefix`.
fn entry_id(prefix: &str, seq: u64) -> String {
    numbered_id(prefix, "", seq)
}

/// `prefix`, then `kind`, then `n` in decimal with at least 16 digits (so ids sort by number). Written by
/// hand: it runs for every event, and the formatting machinery's padding costs several times as much.
fn numbered_id(prefix: &str, kind: &str, n: u64) -> String {
    let mut digits = [b'0'; 20];
    let (mut at, mut rest) = (digits.len(), n);
    loop {
        at -= 1;
        digits[at] = b'0' + u8::try_from(rest % 10).unwrap_or(0);
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let mut id = String::with_capacity(prefix.len() + kind.len() + 20);
    id.push_str(prefix);
    id.push_str(kind);
    id.extend(digits[at.min(digits.len() - 16)..].iter().map(|&d| char::from(d)));
    id
}

fn codec(e: &serde_json::Error) -> StoreError {
    StoreError::Codec { namespace: JOURNAL.into(), reason: e.to_string() }
}

/// `value` as JSON, in a buffer wiped when dropped. Sized for a typical entry (an accepted command is about
/// 400 bytes), so it is seldom reallocated on the way: a reallocation would leave a copy of the entry behind,
/// unwiped.
fn to_json(value: &impl Serialize) -> Result<zeroize::Zeroizing<Vec<u8>>, StoreError> {
    let mut out = zeroize::Zeroizing::new(Vec::with_capacity(512));
    serde_json::to_writer(&mut *out, value).map_err(|e| codec(&e))?;
    Ok(out)
}

/// Opens the part of entry `id` (number `seq`) in a batch record: the entry, and as written.
async fn open_part(
    store: &SharedStore,
    id: &str,
    seq: u64,
    part: &[u8],
) -> Result<(Entry, zeroize::Zeroizing<Vec<u8>>), StoreError> {
    let bytes = store.open_part(JOURNAL, id.as_bytes(), part).await?;
    let entry: Entry = serde_json::from_slice(&bytes).map_err(|e| codec(&e))?;
    if entry.seq != seq {
        return Err(StoreError::Unreadable {
            namespace: JOURNAL.into(),
            reason: format!("an entry numbered {} in the frame of entry {seq}", entry.seq),
        });
    }
    Ok((entry, bytes))
}

/// Writes the entry `id` about `subject` (not flushed).
async fn write(store: &SharedStore, subject: &Subject, id: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let at = RecordKey { namespace: JOURNAL, subject: Some(subject), id: id.as_bytes() };
    store.put(at, bytes, Durability::Batched).await
}

/// Deletes the batch record `(prefix, n)` (not flushed).
async fn delete_batch(store: &SharedStore, (prefix, n): &At) {
    let id = batch::id(prefix, *n);
    let at = RecordKey { namespace: JOURNAL, subject: None, id: id.as_bytes() };
    if let Err(error) = store.delete(at, Durability::Batched).await {
        tracing::error!(%error, "could not delete a batch of journal entries; its events may run again after a restart");
    }
}

/// Records the waiting replies due by `by` (all of them: `None`), then takes apart the batch records due by
/// then: what is still open in them becomes entries of their own.
async fn record(store: &SharedStore, unrecorded: &Unrecorded, by: Option<tokio::time::Instant>) {
    let _writing = unrecorded.writing.lock().await;
    let is_due = |due: tokio::time::Instant| by.is_none_or(|by| due <= by);
    let (late, emptied) = {
        let mut guard = unrecorded.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        let waiting = &mut *guard;
        // Recorded on their own now: their batch records no longer hold them (and hand over their parts).
        let late: Vec<(At, Late, Option<Vec<u8>>)> = waiting
            .entries
            .extract_if(|_, l| is_due(l.due))
            .map(|(at, l)| {
                let part =
                    l.batch.and_then(|b| waiting.batches.get_mut(&(at.0.clone(), b))).and_then(|o| o.take(l.seq));
                (at, l, part)
            })
            .collect();
        let emptied: Vec<At> = waiting.batches.extract_if(|_, o| o.parts.is_empty()).map(|(at, _)| at).collect();
        (late, emptied)
    };
    for ((prefix, seq), late, part) in late {
        if let Err(error) = late.write(store, &entry_id(&prefix, seq), part).await {
            tracing::error!(%error, "could not record an event's replies; a restart may handle it again");
        }
    }
    let due: Vec<(At, Open)> = {
        let mut waiting = unrecorded.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        waiting.batches.extract_if(|_, o| is_due(o.due)).collect()
    };
    let mut written = true;
    for ((prefix, _), open) in &due {
        for (&seq, range) in &open.parts {
            let id = entry_id(prefix, seq);
            let (entry, bytes) = match open_part(store, &id, seq, open.part(range)).await {
                Ok(opened) => opened,
                Err(error) => {
                    tracing::error!(%error, "an event in a batch of journal entries cannot be read (its person was erased or linked another account); it is dropped from the journal");
                    continue;
                }
            };
            if let Err(error) = write(store, &Subject::user(&entry.event.user), &id, &bytes).await {
                tracing::error!(%error, "could not move an event out of its batch of journal entries; it stays there");
                written = false;
            }
        }
    }
    // The batch records go only once the entries taken out of them are durable (on every backend).
    if !due.is_empty() && written && store.flush_anchor_later().await.is_ok() {
        for (at, _) in &due {
            delete_batch(store, at).await;
        }
    }
    for at in &emptied {
        delete_batch(store, at).await;
    }
}

/// Records waiting entries and takes batch records apart as they fall due, until none is left or the store
/// is closed (it holds the store only while writing, so a stopped bot's store closes at once).
async fn record_when_due(store: std::sync::Weak<dyn crate::store::Store>, unrecorded: Arc<Unrecorded>) {
    loop {
        let next = {
            let mut waiting = unrecorded.waiting.lock().unwrap_or_else(PoisonError::into_inner);
            let next = waiting.entries.values().map(|l| l.due).chain(waiting.batches.values().map(|o| o.due)).min();
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
            staged: Mutex::default(),
            unrecorded: Arc::default(),
            marks: marks::Marks::default(),
        }
    }

    /// Where `ticket`'s entry is: the prefix of its journal's ids, and its number.
    fn at(&self, ticket: &Ticket) -> At {
        (ticket.adopted.as_ref().unwrap_or(&self.prefix).clone(), ticket.seq)
    }

    /// Whether the entry `id` is this replica's: under its own name, or unnamed (written before the process
    /// had a replica name; a shared store never has those, since it requires names).
    fn owns(&self, id: &[u8]) -> Option<&str> {
        [&*self.prefix, "j"].into_iter().find(|p| numbered(id, p) || batch::number(id, p).is_some())
    }

    /// Makes sure a task records what waits when it is due.
    fn schedule(&self, waiting: &mut Waiting) {
        if !waiting.recorder {
            waiting.recorder = true;
            tokio::spawn(record_when_due(Arc::downgrade(&self.store), self.unrecorded.clone()));
        }
    }

    /// Accepts an event at `now_ms`: sealed now, written with the others of its batch by the next
    /// [`Journal::flush`] (the intake flushes once for a batch of events).
    pub async fn accept(&self, event: &Event, now_ms: u64) -> Result<Ticket, StoreError> {
        let seq = self.next.fetch_add(1, Ordering::SeqCst);
        let bytes = to_json(&Written { seq, event, replies: None, accepted_ms: now_ms })?;
        let context = entry_id(&self.prefix, seq);
        let part = self.store.seal_part(JOURNAL, &Subject::user(&event.user), context.as_bytes(), &bytes).await?;
        let mut staged = self.staged.lock().unwrap_or_else(PoisonError::into_inner);
        let batch = staged.frames.first().map_or(seq, |f| f.seq);
        staged.push(seq, now_ms, &part);
        Ok(Ticket { seq, user: event.user.clone(), adopted: None, accepted_ms: now_ms, batch: Some(batch) })
    }

    /// Notes that the event was handled and what is left to deliver: recorded in its entry if the replies
    /// are still undelivered [`RECORD_REPLIES_AFTER`] from now, or at [`Journal::settle`].
    pub fn handled(&self, ticket: &Ticket, replies: Vec<Reply>) {
        let late = Late {
            due: tokio::time::Instant::now() + RECORD_REPLIES_AFTER,
            user: ticket.user.clone(),
            replies,
            seq: ticket.seq,
            batch: ticket.batch,
        };
        let at = self.at(ticket);
        let mut waiting = self.unrecorded.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        waiting.entries.insert(at, late);
        self.schedule(&mut waiting);
    }

    /// Records the replies of every handled event still waiting to be delivered, due or not (at shutdown:
    /// the next start sends them), and takes every batch record apart. Not flushed.
    pub async fn settle(&self) {
        record(&self.store, &self.unrecorded, None).await;
    }

    /// Drops the entry: its replies were delivered (or it was dropped on purpose).
    pub async fn done(&self, ticket: &Ticket) {
        let at = self.at(ticket);
        let batch = ticket.batch.map(|n| (at.0.clone(), n));
        let (in_batch, emptied) = {
            // Not recorded yet: it never will be. Being recorded: deleted once written.
            let _writing = self.unrecorded.writing.lock().await;
            let mut waiting = self.unrecorded.waiting.lock().unwrap_or_else(PoisonError::into_inner);
            waiting.entries.remove(&at);
            let open = batch.as_ref().and_then(|b| waiting.batches.get_mut(b));
            match open.map(|open| (open.parts.remove(&ticket.seq).is_some(), open.parts.is_empty())) {
                Some((true, empty)) => {
                    let emptied = batch.filter(|_| empty);
                    if let Some(b) = &emptied {
                        waiting.batches.remove(b);
                    }
                    (true, emptied)
                }
                _ => (false, None),
            }
        };
        if let Some(b) = emptied {
            delete_batch(&self.store, &b).await;
        }
        if in_batch {
            return;
        }
        let subject = Subject::user(&ticket.user);
        let id = entry_id(&at.0, at.1);
        let at = RecordKey { namespace: JOURNAL, subject: Some(&subject), id: id.as_bytes() };
        if let Err(error) = self.store.delete(at, Durability::Batched).await {
            tracing::error!(%error, "could not clear a journal entry; it may be handled again after a restart");
        }
    }

    /// Every entry left by an earlier run, oldest first, with its ticket; numbering continues after them.
    pub async fn recover(&self) -> Result<Vec<(Entry, Ticket)>, StoreError> {
        self.entries(|id| self.owns(id).map(Arc::from), None).await
    }

    /// Every entry in the journal of replica `replica` (which died: this process took its name over),
    /// oldest first, with tickets that clear them there.
    pub async fn adopt(&self, replica: &str) -> Result<Vec<(Entry, Ticket)>, StoreError> {
        let prefix = prefix_of(replica);
        let theirs =
            |id: &[u8]| (numbered(id, &prefix) || batch::number(id, &prefix).is_some()).then(|| prefix.clone());
        self.entries(theirs, Some(prefix.clone())).await
    }

    /// The entries `wanted` names (with the prefix of their journal's ids), oldest first, with their tickets.
    /// Batch records are read event by event; an event recorded on its own as well is taken from there (that
    /// record is the later one). A batch record this journal has open already gives only what is still open
    /// in it; any other is opened here, so its events' tickets clear it as they are done.
    async fn entries(
        &self,
        wanted: impl Fn(&[u8]) -> Option<Arc<str>>,
        adopted: Option<Arc<str>>,
    ) -> Result<Vec<(Entry, Ticket)>, StoreError> {
        // Entries recorded on their own, by their journal's prefix and number.
        let mut own: HashMap<At, Entry> = HashMap::new();
        let mut batches: Vec<(At, batch::Batch, Vec<Entry>)> = Vec::new();
        let mut last = 0;
        for record in self.store.scan(JOURNAL).await? {
            let Some(prefix) = wanted(&record.id) else { continue };
            let Some(n) = batch::number(&record.id, &prefix) else {
                match serde_json::from_slice::<Entry>(&record.value) {
                    Ok(entry) => {
                        last = last.max(entry.seq);
                        own.insert((prefix, entry.seq), entry);
                    }
                    Err(error) => tracing::error!(%error, "a journal entry cannot be read; it is skipped"),
                }
                continue;
            };
            let batch = match batch::Batch::decode(record.value.to_vec()) {
                Ok(batch) => batch,
                Err(reason) => {
                    tracing::error!(%reason, "a batch of journal entries cannot be read; it is skipped");
                    continue;
                }
            };
            let mut entries = Vec::with_capacity(batch.frames.len());
            for frame in &batch.frames {
                last = last.max(frame.seq);
                match open_part(&self.store, &entry_id(&prefix, frame.seq), frame.seq, batch.part(frame)).await {
                    Ok((entry, _)) => entries.push(entry),
                    Err(error) => tracing::error!(
                        %error,
                        "a journal entry in a batch cannot be read (its person was erased, or it is damaged); it is skipped"
                    ),
                }
            }
            batches.push(((prefix, n), batch, entries));
        }
        if adopted.is_none() {
            self.next.fetch_max(last + 1, Ordering::SeqCst);
        }
        // An entry of this process's journal written before it had a replica name is cleared where it is, as
        // one taken over.
        let journal_of =
            |prefix: &Arc<str>| adopted.clone().or_else(|| (*prefix != self.prefix).then(|| prefix.clone()));
        let ticket = |entry: &Entry, prefix: &Arc<str>, batch: Option<u64>| Ticket {
            seq: entry.seq,
            user: entry.event.user.clone(),
            adopted: journal_of(prefix),
            accepted_ms: entry.accepted_ms,
            batch,
        };
        let mut out: Vec<(Entry, Ticket)> = Vec::new();
        let mut emptied = Vec::new();
        {
            let mut waiting = self.unrecorded.waiting.lock().unwrap_or_else(PoisonError::into_inner);
            for (at, batch, entries) in batches {
                let open_here = waiting.batches.get(&at);
                let entries: Vec<Entry> = entries
                    .into_iter()
                    .filter(|e| {
                        !own.contains_key(&(at.0.clone(), e.seq))
                            && open_here.is_none_or(|o| o.parts.contains_key(&e.seq))
                    })
                    .collect();
                if open_here.is_none() {
                    if entries.is_empty() {
                        emptied.push(at);
                        continue;
                    }
                    let mut open = Open::new(batch);
                    open.parts.retain(|seq, _| entries.iter().any(|e| e.seq == *seq));
                    waiting.batches.insert(at.clone(), open);
                }
                out.extend(entries.into_iter().map(|e| (ticket(&e, &at.0, Some(at.1)), e)).map(|(t, e)| (e, t)));
            }
        }
        for at in &emptied {
            delete_batch(&self.store, at).await;
        }
        out.extend(own.into_iter().map(|((prefix, _), e)| (ticket(&e, &prefix, None), e)).map(|(t, e)| (e, t)));
        out.sort_by_key(|(e, _)| e.seq);
        Ok(out)
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

    /// Drops the events accepted since the last flush unwritten: the intake refused the batch (its marks
    /// could not be written).
    pub fn refuse_staged(&self) {
        *self.staged.lock().unwrap_or_else(PoisonError::into_inner) = batch::Batch::default();
    }

    /// Writes the events accepted since the last flush as one batch record, and makes every record so far
    /// durable (one write and one flush for a batch of accepted events; the store's anchor records the flush
    /// a moment later, see [`Store::flush_anchor_later`]). On an error none of those events is recorded: the
    /// intake refuses them all.
    ///
    /// [`Store::flush_anchor_later`]: crate::store::Store::flush_anchor_later
    pub async fn flush(&self) -> Result<(), StoreError> {
        let staged = std::mem::take(&mut *self.staged.lock().unwrap_or_else(PoisonError::into_inner));
        let Some(first) = staged.frames.first() else { return self.store.flush_anchor_later().await };
        let at: At = (self.prefix.clone(), first.seq);
        let id = batch::id(&at.0, at.1);
        let record = RecordKey { namespace: JOURNAL, subject: None, id: id.as_bytes() };
        self.store.put(record, &staged.bytes, Durability::Batched).await?;
        if let Err(error) = self.store.flush_anchor_later().await {
            // Refused: the platform delivers them again, so they must not also run at the next start.
            delete_batch(&self.store, &at).await;
            return Err(error);
        }
        let mut waiting = self.unrecorded.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        waiting.batches.insert(at, Open::new(staged));
        self.schedule(&mut waiting);
        Ok(())
    }
}
