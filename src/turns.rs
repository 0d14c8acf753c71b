//! Turns across replicas: on a store several processes share (replicas on one Redis), the events of one
//! conversation take turns through one record in `core.turns`, wherever they arrived.
//!
//! Each process already runs one event per conversation at a time, in arrival order (the scheduler in
//! `dispatch::conversations`). Across processes the conversation's record holds a line: the place that runs
//! now and the places waiting, ordered by arrival time (the wall clock of the replica that accepted the
//! event, then a tie-breaker). An event about to run takes its place in the line and runs when it is first
//! and nobody runs; it keeps the turn until its replies have left (they are delivered in the order the
//! handlers ran), then hands it on. Every change is one compare-and-set ([`palisade_core::Store::swap`]), so
//! two replicas never both believe they run.
//!
//! A replica that dies holding the turn blocks the conversation for at most [`HOLD_FOR`]: a running place is
//! renewed every third of that while its event runs, and a place not renewed in time is dropped by the next
//! replica that reads the line, as is a waiting place whose replica stopped asking. Events it had accepted
//! but not run are taken up by another replica later (`dispatch::takeover`, after 20 s of silence) and join
//! the end of their lines then: across a crash, they run after what their conversation sent elsewhere
//! meanwhile. (Put back where they arrived, they would wait behind an event of the same conversation that
//! the taking replica already runs — and that one waits for them.)
//!
//! Why a line in the store rather than routing every conversation to one owner: it needs nothing besides the
//! store every replica has already, a replica can stop or die at any moment without a hand-over protocol, and
//! the load balancer may send any event anywhere. It costs a few store round trips per event, paid only
//! when the store is shared. Order across replicas rests on the replicas' clocks agreeing to well under the
//! time between two messages of one person (NTP keeps them within milliseconds).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::clock::{SharedClock, millis};
use crate::event::ConversationKey;
use crate::store::{Durability, Record, RecordKey, SharedStore, StoreError};

/// Where the lines of turns are kept.
pub const NAMESPACE: &str = "core.turns";
/// How long a running place lasts without renewal (the longest a dead replica holds up a conversation).
pub const HOLD_FOR: Duration = Duration::from_secs(10);
/// How long a waiting place lasts without its replica asking again.
const WAIT_FOR: Duration = HOLD_FOR;
/// The longest pause between two looks at the line while waiting (a turn handed on by another replica is
/// seen within it; one handed on here wakes the waiting at once).
const LOOK_AT_MOST_EVERY: Duration = Duration::from_millis(20);

/// One event's place in a conversation's line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Place {
    /// When the event arrived (ms since the epoch, on the replica that accepted it).
    arrived_ms: u64,
    /// Which process and which of its events (random per process, then a counter).
    holder: String,
    /// When the place lapses unless renewed.
    until_ms: u64,
}

impl Place {
    fn order(&self) -> (u64, &str) {
        (self.arrived_ms, &self.holder)
    }
}

/// A conversation's line.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Line {
    running: Option<Place>,
    waiting: Vec<Place>,
}

impl Line {
    fn read(record: Option<&Record>) -> Self {
        let Some(record) = record else { return Self::default() };
        serde_json::from_slice(&record.value).unwrap_or_else(|error| {
            // Only this module writes it; a record it cannot read is started afresh rather than left to block.
            tracing::warn!(%error, "a conversation's line of turns could not be read; starting it again");
            Self::default()
        })
    }

    /// Drops places that lapsed (their replicas died or gave up), except `me`'s.
    fn prune(&mut self, now_ms: u64, me: &str) {
        if self.running.as_ref().is_some_and(|p| p.until_ms < now_ms && p.holder != me) {
            self.running = None;
        }
        self.waiting.retain(|p| p.until_ms >= now_ms || p.holder == me);
    }
}

/// What a look at the line is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// Putting an arriving event in the line.
    LineUp,
    /// Keeping a queued event's place from lapsing (never putting it back: it may have run meanwhile).
    Renew,
    /// Taking the turn when it is the event's.
    Take,
}

/// What one look at the line found.
enum Look {
    /// The turn is this event's.
    Mine,
    /// Someone else runs or is first; look again later.
    Wait,
    /// The line changed between reading and writing it; look again now.
    Raced,
}

/// The turns of every conversation this process handles, on one shared store.
pub struct Turns {
    store: SharedStore,
    clock: SharedClock,
    /// A random id of this process.
    instance: String,
    next: AtomicU64,
    /// Wakes this process's waiting events when one of its turns was handed on.
    handed_on: tokio::sync::Notify,
    /// Places lined up here whose events are not yet looking for their turn (queued behind others of
    /// their conversation, or for a free slot): conversation and arrival by place; renewed in the background.
    queued: std::sync::Mutex<std::collections::HashMap<String, (String, u64)>>,
    renewing_queued: std::sync::Once,
    /// The latest arrival placed here, and the time in ms it was placed at (see [`Turns::arrival_ms`]).
    last_arrival: std::sync::Mutex<Option<(tokio::time::Instant, u64)>>,
}

impl std::fmt::Debug for Turns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Turns").field("instance", &self.instance).finish_non_exhaustive()
    }
}

/// The turn of one event: held until dropped or [`Turn::release`]d, renewed meanwhile.
#[must_use = "the turn is handed on when dropped"]
pub struct Turn {
    /// The turns, the conversation and the place; taken when handed on.
    held: Option<(Arc<Turns>, String, String)>,
    renewing: CancellationToken,
}

impl std::fmt::Debug for Turn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Turn").field("held", &self.held.as_ref().map(|h| &h.2)).finish()
    }
}

impl Turns {
    /// Turns over `store` (which other processes share).
    ///
    /// # Errors
    /// When no random id can be drawn for this process.
    pub fn new(store: SharedStore, clock: SharedClock) -> Result<Arc<Self>, StoreError> {
        let random = crate::crypto::random_bytes(12).map_err(|e| StoreError::MasterKey(e.to_string()))?;
        Ok(Arc::new(Self {
            store,
            clock,
            instance: crate::crypto::hex(&random),
            next: AtomicU64::new(0),
            handed_on: tokio::sync::Notify::new(),
            queued: std::sync::Mutex::default(),
            renewing_queued: std::sync::Once::new(),
            last_arrival: std::sync::Mutex::default(),
        }))
    }

    fn key(conversation: &str) -> RecordKey<'_> {
        RecordKey { namespace: NAMESPACE, subject: None, id: conversation.as_bytes() }
    }

    /// Puts an event of `conversation` that arrived at `arrived` in the conversation's line at once (in the
    /// background), so that no later event, on any replica, takes the turn before it.
    pub fn line_up(self: &Arc<Self>, conversation: &ConversationKey, arrived: tokio::time::Instant) -> Waiting {
        let (conversation, me, arrived_ms) = self.place(conversation, arrived);
        let registering = {
            let (turns, conversation, me) = (self.clone(), conversation.clone(), me.clone());
            tokio::spawn(async move { turns.register(&conversation, &me, arrived_ms).await })
        };
        Waiting { held: Some((self.clone(), conversation, me)), arrived_ms, registering: Some(registering) }
    }

    /// [`Turns::line_up`], returning once the place is written (or writing it failed). Several events of
    /// one conversation placed one after the other this way do not race each other for its line.
    pub async fn line_up_now(
        self: &Arc<Self>,
        conversation: &ConversationKey,
        arrived: tokio::time::Instant,
    ) -> Waiting {
        let (conversation, me, arrived_ms) = self.place(conversation, arrived);
        if let Err(error) = self.register(&conversation, &me, arrived_ms).await {
            tracing::warn!(%error, "could not put an event in its conversation's line yet; it is when it runs");
        }
        Waiting { held: Some((self.clone(), conversation, me)), arrived_ms, registering: None }
    }

    /// A new place for an event of `conversation` that arrived at `arrived`: the line's id, the place's
    /// holder, the arrival in ms. Noted as queued here (renewed until its event looks for the turn).
    fn place(self: &Arc<Self>, conversation: &ConversationKey, arrived: tokio::time::Instant) -> (String, String, u64) {
        // The store keys records by a keyed hash of this id: it never reaches the server as is.
        let conversation = format!("{}\n{}", conversation.user, conversation.chat_id);
        let me = format!("{}:{:020}", self.instance, self.next.fetch_add(1, Ordering::Relaxed));
        let arrived_ms = self.arrival_ms(arrived);
        self.renewing_queued.call_once(|| {
            tokio::spawn(renew_queued(Arc::downgrade(self)));
        });
        self.queue(&me, Some((&conversation, arrived_ms)));
        (conversation, me, arrived_ms)
    }

    /// When `arrived` was, in ms since the epoch: the clock now less the time since, but never before an
    /// arrival no later than it placed here already. Both are whole ms, rounded down, so the difference of
    /// two events that arrived together can come out one ms apart either way; were a later-placed event of a
    /// conversation put ahead of an earlier one, the earlier one, first in this process's queue, would wait
    /// for its turn in the line behind the later one, queued here behind it: neither would ever run. An
    /// equal time leaves the order to the places' holders, numbered as they are placed.
    fn arrival_ms(&self, arrived: tokio::time::Instant) -> u64 {
        let computed = self.clock.now_ms().saturating_sub(millis(arrived.elapsed()));
        let mut last = self.last_arrival.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match *last {
            // An arrival older than the last one placed (an event taken up from a journal): its own time.
            Some((at, _)) if arrived < at => computed,
            Some((_, ms)) => {
                let ms = computed.max(ms);
                *last = Some((arrived, ms));
                ms
            }
            None => {
                *last = Some((arrived, computed));
                computed
            }
        }
    }

    /// Writes the place in the line. A failure is not final: the first look when the event is due puts it
    /// there.
    async fn register(&self, conversation: &str, me: &str, arrived_ms: u64) -> Result<(), StoreError> {
        loop {
            match self.look(conversation, me, arrived_ms, Purpose::LineUp).await {
                Ok(Look::Raced) => {}
                done => return done.map(|_| ()),
            }
        }
    }

    /// Notes `me` as queued here (with its conversation and arrival) or, with `None`, as no longer queued.
    fn queue(&self, me: &str, queued: Option<(&str, u64)>) {
        let mut map = self.queued.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match queued {
            Some((conversation, arrived_ms)) => map.insert(me.to_string(), (conversation.to_string(), arrived_ms)),
            None => map.remove(me),
        };
    }

    /// One look at the line: takes a place in it (or renews it) and the turn when it is this event's.
    async fn look(&self, conversation: &str, me: &str, arrived_ms: u64, purpose: Purpose) -> Result<Look, StoreError> {
        let now = self.clock.now_ms();
        let current = self.store.get(Self::key(conversation)).await?;
        let mut line = Line::read(current.as_ref());
        if line.running.as_ref().is_some_and(|p| p.holder == me) {
            return Ok(Look::Mine);
        }
        let before = serde_json::to_vec(&line).unwrap_or_default();
        line.prune(now, me);
        let wait_until = now + millis(WAIT_FOR);
        match line.waiting.iter_mut().find(|p| p.holder == me) {
            // Renewed when half its time is gone: a look that finds nothing new writes nothing.
            Some(place) if place.until_ms < now + millis(WAIT_FOR) / 2 => place.until_ms = wait_until,
            Some(_) => {}
            None if purpose == Purpose::Renew => return Ok(Look::Wait),
            None => {
                let place = Place { arrived_ms, holder: me.to_string(), until_ms: wait_until };
                let at = line.waiting.partition_point(|p| p.order() < place.order());
                line.waiting.insert(at, place);
            }
        }
        let mine =
            purpose == Purpose::Take && line.running.is_none() && line.waiting.first().is_some_and(|p| p.holder == me);
        if mine {
            let mut place = line.waiting.remove(0);
            place.until_ms = now + millis(HOLD_FOR);
            line.running = Some(place);
        }
        let after = serde_json::to_vec(&line).map_err(|e| codec(&e))?;
        if after == before {
            return Ok(Look::Wait);
        }
        let swapped =
            self.store.swap(Self::key(conversation), current.as_ref(), Some(&after), Durability::Batched).await?;
        Ok(match (swapped, mine) {
            (false, _) => Look::Raced,
            (true, true) => Look::Mine,
            (true, false) => Look::Wait,
        })
    }

    /// Renews a running place until `stop`.
    async fn renew(self: Arc<Self>, conversation: String, me: String, stop: CancellationToken) {
        let every = HOLD_FOR / 3;
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
            let outcome = self
                .change(&conversation, |line, now| match &mut line.running {
                    Some(place) if place.holder == me => {
                        place.until_ms = now + millis(HOLD_FOR);
                        Some(true)
                    }
                    _ => Some(false),
                })
                .await;
            match outcome {
                Ok(true) => {}
                Ok(false) => {
                    tracing::error!(
                        "a conversation's turn lapsed while its event ran here (this process stalled for longer \
                         than {} s); another replica may run its next event at the same time",
                        HOLD_FOR.as_secs()
                    );
                    return;
                }
                Err(error) => tracing::warn!(%error, "could not renew a conversation's turn; retrying"),
            }
        }
    }

    /// Takes `me` out of the line (its turn, or its waiting place).
    async fn leave(&self, conversation: &str, me: &str) {
        self.queue(me, None);
        let mut pause = Duration::from_millis(20);
        for _ in 0..5 {
            let outcome = self
                .change(conversation, |line, _| {
                    let running = line.running.as_ref().is_some_and(|p| p.holder == me);
                    if running {
                        line.running = None;
                    }
                    let waiting = line.waiting.len();
                    line.waiting.retain(|p| p.holder != me);
                    Some(running || waiting != line.waiting.len())
                })
                .await;
            match outcome {
                Ok(_) => {
                    self.handed_on.notify_waiters();
                    return;
                }
                Err(error) => {
                    tracing::warn!(%error, "could not hand a conversation's turn on; retrying");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
            }
        }
        tracing::warn!("gave up handing a conversation's turn on; it lapses in {} s", HOLD_FOR.as_secs());
    }

    /// Applies `edit` to the line until the swap holds; `edit` returns `Some(changed)`, and nothing is
    /// written when it changed nothing. An emptied line is deleted.
    async fn change(
        &self,
        conversation: &str,
        mut edit: impl FnMut(&mut Line, u64) -> Option<bool>,
    ) -> Result<bool, StoreError> {
        loop {
            let current = self.store.get(Self::key(conversation)).await?;
            let mut line = Line::read(current.as_ref());
            let changed = edit(&mut line, self.clock.now_ms()).unwrap_or(false);
            if !changed {
                return Ok(false);
            }
            let new = if line.running.is_none() && line.waiting.is_empty() {
                None
            } else {
                Some(serde_json::to_vec(&line).map_err(|e| codec(&e))?)
            };
            if self.store.swap(Self::key(conversation), current.as_ref(), new.as_deref(), Durability::Batched).await? {
                return Ok(true);
            }
        }
    }
}

/// Keeps the places of events queued in this process from lapsing, while the turns are in use.
async fn renew_queued(turns: std::sync::Weak<Turns>) {
    loop {
        tokio::time::sleep(WAIT_FOR / 3).await;
        let Some(turns) = turns.upgrade() else { return };
        let queued: Vec<_> = {
            let map = turns.queued.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            map.iter().map(|(me, (conversation, arrived))| (me.clone(), conversation.clone(), *arrived)).collect()
        };
        for (me, conversation, arrived_ms) in queued {
            // A place taken or given up meanwhile is not put back: only those still queued are renewed.
            let still = turns.queued.lock().unwrap_or_else(std::sync::PoisonError::into_inner).contains_key(&me);
            if still && let Err(error) = turns.look(&conversation, &me, arrived_ms, Purpose::Renew).await {
                tracing::warn!(%error, "could not renew a queued event's place in its conversation's line; retrying");
            }
        }
    }
}

/// An event's place in its conversation's line, until it takes its turn.
#[must_use = "the place is given up when dropped"]
pub struct Waiting {
    held: Option<(Arc<Turns>, String, String)>,
    arrived_ms: u64,
    registering: Option<tokio::task::JoinHandle<Result<(), StoreError>>>,
}

impl std::fmt::Debug for Waiting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiting").field("arrived_ms", &self.arrived_ms).finish_non_exhaustive()
    }
}

impl Waiting {
    /// Waits for the turn. While the store cannot be reached it keeps trying (the event waits:
    /// backpressure). Returns `None` when `stop` is cancelled first; the event then stays in the journal for
    /// the next start.
    pub async fn take(mut self, stop: &CancellationToken) -> Option<Turn> {
        if let Some(registering) = self.registering.take() {
            // Its write must land before any look of ours, or a late one could put the place back after we left.
            let _ = registering.await;
        }
        let (turns, conversation, me) = self.held.take()?;
        // Looking for its turn from now on, it renews its place itself.
        turns.queue(&me, None);
        let mut pause = Duration::from_millis(1);
        let mut failing = false;
        let listener = turns.clone();
        loop {
            // Listening before looking: a turn handed on here between the look and the wait is not missed.
            let handed_on = listener.handed_on.notified();
            tokio::pin!(handed_on);
            handed_on.as_mut().enable();
            match turns.look(&conversation, &me, self.arrived_ms, Purpose::Take).await {
                Ok(Look::Mine) => {
                    if failing {
                        tracing::info!("the store answers again; conversations take their turns again");
                    }
                    let renewing = CancellationToken::new();
                    tokio::spawn(turns.clone().renew(conversation.clone(), me.clone(), renewing.clone()));
                    return Some(Turn { held: Some((turns, conversation, me)), renewing });
                }
                Ok(Look::Raced) => continue,
                Ok(Look::Wait) => {}
                Err(error) => {
                    if !failing {
                        tracing::warn!(%error, "cannot take a conversation's turn (store unreachable?); waiting");
                    }
                    failing = true;
                    pause = (pause * 2).clamp(Duration::from_millis(100), Duration::from_secs(1));
                }
            }
            tokio::select! {
                () = stop.cancelled() => {
                    turns.leave(&conversation, &me).await;
                    return None;
                }
                () = tokio::time::sleep(pause) => pause = (pause * 2).min(LOOK_AT_MOST_EVERY),
                () = handed_on => {}
            }
        }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Some((turns, conversation, me)) = self.held.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let registering = self.registering.take();
            runtime.spawn(async move {
                if let Some(registering) = registering {
                    let _ = registering.await;
                }
                turns.leave(&conversation, &me).await;
            });
        }
    }
}

impl Turn {
    /// Hands the turn on (the next event of the conversation, on whichever replica, may run).
    pub async fn release(mut self) {
        self.renewing.cancel();
        if let Some((turns, conversation, me)) = self.held.take() {
            turns.leave(&conversation, &me).await;
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.renewing.cancel();
        if let Some((turns, conversation, me)) = self.held.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move { turns.leave(&conversation, &me).await });
        }
    }
}

fn codec(e: &serde_json::Error) -> StoreError {
    StoreError::Codec { namespace: NAMESPACE.into(), reason: e.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::UserRef;

    async fn store() -> SharedStore {
        let key = crate::crypto::Key::from_bytes(&[7u8; 32]).unwrap();
        let backend = Arc::new(crate::store::MemoryBackend::new());
        Arc::new(crate::store::RecordStore::open(backend, &key, crate::clock::TokioClock::shared()).await.unwrap())
    }

    fn ann() -> ConversationKey {
        ConversationKey { user: "console:ann".parse::<UserRef>().unwrap(), chat_id: "ann".into() }
    }

    #[tokio::test]
    async fn a_swap_holds_only_against_what_was_read() {
        let store = store().await;
        let key = RecordKey { namespace: NAMESPACE, subject: None, id: b"x" };
        assert!(store.swap(key, None, Some(b"one"), Durability::Batched).await.unwrap(), "created when absent");
        assert!(!store.swap(key, None, Some(b"two"), Durability::Batched).await.unwrap(), "not when present");
        let one = store.get(key).await.unwrap().unwrap();
        assert!(store.swap(key, Some(&one), Some(b"two"), Durability::Batched).await.unwrap());
        assert!(!store.swap(key, Some(&one), Some(b"three"), Durability::Batched).await.unwrap(), "stale read");
        assert_eq!(&*store.get(key).await.unwrap().unwrap().value, b"two");
        let two = store.get(key).await.unwrap().unwrap();
        assert!(!store.swap(key, Some(&one), None, Durability::Batched).await.unwrap(), "stale read, not deleted");
        assert!(store.swap(key, Some(&two), None, Durability::Batched).await.unwrap());
        assert!(store.get(key).await.unwrap().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn the_earlier_arrival_runs_first_whichever_replica_asks_first() {
        let store = store().await;
        let (a, b) = (
            Turns::new(store.clone(), crate::clock::TokioClock::shared()).unwrap(),
            Turns::new(store, crate::clock::TokioClock::shared()).unwrap(),
        );
        let stop = CancellationToken::new();
        let first = a.line_up(&ann(), tokio::time::Instant::now());
        tokio::time::sleep(Duration::from_millis(5)).await;
        let second = b.line_up(&ann(), tokio::time::Instant::now());
        tokio::time::sleep(Duration::from_millis(5)).await;
        // b asks first but arrived later: it waits for a's event, however long that takes.
        let waiting = tokio::spawn(async move { second.take(&CancellationToken::new()).await });
        tokio::time::sleep(HOLD_FOR * 3).await;
        assert!(!waiting.is_finished(), "the later arrival waits while the earlier one has not run");
        let turn = first.take(&stop).await.expect("a's turn");
        tokio::time::sleep(HOLD_FOR * 3).await;
        assert!(!waiting.is_finished(), "and while it runs (renewed)");
        turn.release().await;
        waiting.await.unwrap().expect("b's turn once a handed it on").release().await;
    }

    #[tokio::test(start_paused = true)]
    async fn events_that_arrived_together_keep_their_order_in_the_line_whatever_the_rounding() {
        let store = store().await;
        let turns = Turns::new(store, crate::clock::TokioClock::shared()).unwrap();
        // The clock counts whole ms from here; the events arrive 0.6 ms in, and are placed 1.1 and 1.6 ms in:
        // the first comes out at 1 ms (1 - 0), the second at 0 ms (1 - 1) unless kept behind the first.
        tokio::time::advance(Duration::from_micros(600)).await;
        let arrived = tokio::time::Instant::now();
        tokio::time::advance(Duration::from_micros(500)).await;
        let first = turns.line_up_now(&ann(), arrived).await;
        tokio::time::advance(Duration::from_micros(500)).await;
        let second = turns.line_up_now(&ann(), arrived).await;
        let stop = CancellationToken::new();
        let turn = tokio::time::timeout(Duration::from_secs(60), first.take(&stop))
            .await
            .expect("the event placed first is first in the line (it would wait for the second forever)")
            .expect("its turn");
        turn.release().await;
        second.take(&stop).await.expect("then the second's").release().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_turn_held_by_a_replica_that_died_lapses() {
        let store = store().await;
        let now = crate::clock::Clock::now_ms(&*crate::clock::TokioClock::shared());
        let dead = Line {
            running: Some(Place { arrived_ms: now, holder: "dead:1".into(), until_ms: now + millis(HOLD_FOR) }),
            waiting: vec![Place { arrived_ms: now, holder: "dead:2".into(), until_ms: now + millis(WAIT_FOR) }],
        };
        let id = format!("{}\n{}", ann().user, ann().chat_id);
        store.put(Turns::key(&id), &serde_json::to_vec(&dead).unwrap(), Durability::Batched).await.unwrap();
        let turns = Turns::new(store.clone(), crate::clock::TokioClock::shared()).unwrap();
        let place = turns.line_up(&ann(), tokio::time::Instant::now());
        let started = tokio::time::Instant::now();
        let turn = place.take(&CancellationToken::new()).await.expect("the turn once the dead places lapsed");
        let waited = started.elapsed();
        assert!(waited >= HOLD_FOR.min(WAIT_FOR) && waited < HOLD_FOR + Duration::from_secs(1), "{waited:?}");
        turn.release().await;
        assert!(store.get(Turns::key(&id)).await.unwrap().is_none(), "an empty line is removed");
    }

    #[tokio::test(start_paused = true)]
    async fn a_place_given_up_at_a_stop_does_not_block_the_line() {
        let store = store().await;
        let turns = Turns::new(store, crate::clock::TokioClock::shared()).unwrap();
        let running = turns.line_up(&ann(), tokio::time::Instant::now()).take(&CancellationToken::new()).await.unwrap();
        let stop = CancellationToken::new();
        let waiting = tokio::spawn({
            let place = turns.line_up(&ann(), tokio::time::Instant::now());
            let stop = stop.clone();
            async move { place.take(&stop).await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop.cancel();
        assert!(waiting.await.unwrap().is_none(), "gave up at the stop");
        drop(running);
        tokio::time::sleep(Duration::from_millis(10)).await;
        let next = turns.line_up(&ann(), tokio::time::Instant::now());
        let started = tokio::time::Instant::now();
        next.take(&CancellationToken::new()).await.unwrap().release().await;
        assert!(started.elapsed() < Duration::from_millis(100), "nobody left in the line: {:?}", started.elapsed());
    }
}
