//! Ordering and concurrency: one queue per conversation, at most one event per conversation in flight, at
//! most `max_concurrency` events in flight overall, and at most `queue_capacity` accepted-but-not-started
//! events before intake stops pulling (which makes adapters wait: backpressure).
//!
//! Fairness: conversations take turns (a conversation whose event finished goes to the back of the line), and
//! each conversation's queue holds at most `conversation_queue` events — beyond that its events are dropped
//! with one notice, so one chatty user can neither fill the shared queue nor delay anyone else.
//!
//! A handler hands its replies to the send scheduler ([`Outboxes::send`]) and frees its slot at once; the
//! replies then leave in order, paced to the platform's limits.
//!
//! All bookkeeping lives in this one task; handler tasks only report back through a channel, so there are
//! no locks and no window in which two events of one conversation run at once.

use std::collections::{HashMap, HashSet, VecDeque};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::intake::Accepted;
use super::{EventService, Outboxes, Request};
use crate::config::DispatchSettings;
use crate::event::ConversationKey;
use crate::journal::Journal;
use crate::reply::{Reply, ReplyBody};

/// What a user whose messages overflow their conversation's queue reads, once per overflow.
pub const SKIPPED: &str =
    "You sent more messages than I can keep up with, so I skipped some. Please send them again after I answer.";

pub(super) struct Conversations {
    service: EventService,
    outboxes: Outboxes,
    /// Each queued event with its place in the conversation's line among replicas (with other replicas only).
    queues: HashMap<ConversationKey, VecDeque<(Accepted, Option<crate::turns::Waiting>)>>,
    running: HashSet<ConversationKey>,
    ready: VecDeque<ConversationKey>,
    /// Conversations told about dropped events since their queue last had room.
    overflowed: HashSet<ConversationKey>,
    pending: usize,
    max_concurrency: usize,
    max_pending: usize,
    per_conversation: usize,
    journal: Option<std::sync::Arc<Journal>>,
    load: std::sync::Arc<crate::status::Load>,
    texts: std::sync::Arc<palisade_core::texts::Texts>,
    done_tx: mpsc::UnboundedSender<ConversationKey>,
    done_rx: mpsc::UnboundedReceiver<ConversationKey>,
    /// On a store other replicas share: the turns each event takes before it runs.
    turns: Option<std::sync::Arc<crate::turns::Turns>>,
    /// Cancelled when the dispatcher stops: events waiting for their turn give up (they stay journaled).
    stop: CancellationToken,
}

/// Reports a finished event to the scheduler when dropped, so even a task that dies early frees its slot.
struct DoneGuard {
    key: Option<ConversationKey>,
    tx: mpsc::UnboundedSender<ConversationKey>,
}

impl Drop for DoneGuard {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let _ = self.tx.send(key);
        }
    }
}

impl Conversations {
    pub(super) fn new(
        service: EventService,
        outboxes: Outboxes,
        settings: &DispatchSettings,
        journal: Option<std::sync::Arc<Journal>>,
        load: std::sync::Arc<crate::status::Load>,
        texts: std::sync::Arc<palisade_core::texts::Texts>,
        turns: Option<std::sync::Arc<crate::turns::Turns>>,
    ) -> Self {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        Self {
            service,
            outboxes,
            queues: HashMap::new(),
            running: HashSet::new(),
            ready: VecDeque::new(),
            overflowed: HashSet::new(),
            pending: 0,
            max_concurrency: settings.max_concurrency.max(1),
            max_pending: settings.queue_capacity.max(1),
            per_conversation: settings.conversation_queue.max(1),
            journal,
            load,
            texts,
            done_tx,
            done_rx,
            turns,
            stop: CancellationToken::new(),
        }
    }

    /// Runs accepted events until the intake closes; then lets the running handlers finish (they are bounded
    /// by `handler_timeout`) and returns. Events still queued stay in the journal for the next start.
    pub(super) async fn run(mut self, mut intake: mpsc::Receiver<Accepted>, stop: CancellationToken) {
        let mut intake_open = true;
        self.stop = stop.clone();
        loop {
            if !stop.is_cancelled() {
                self.start_ready();
            }
            self.load.set(self.pending, self.running.len());
            if (!intake_open || stop.is_cancelled()) && self.running.is_empty() {
                break;
            }
            let can_take = intake_open && self.pending < self.max_pending && !stop.is_cancelled();
            tokio::select! {
                biased;
                Some(key) = self.done_rx.recv() => self.finished(key),
                () = stop.cancelled(), if intake_open => intake_open = false,
                accepted = intake.recv(), if can_take => match accepted {
                    Some(accepted) => self.enqueue(accepted).await,
                    None => intake_open = false,
                },
            }
        }
        self.load.set(self.pending, 0);
        if self.pending > 0 {
            tracing::info!(events = self.pending, "stopping with events not yet handled; they run at the next start");
        }
        tracing::debug!("scheduler stopped");
    }

    /// Queues an accepted event on its conversation, or drops it (telling the user once) when that
    /// conversation's queue is full.
    pub(super) async fn enqueue(&mut self, accepted: Accepted) {
        let event = &accepted.envelope.event;
        crate::metrics::event_in(event.chat.platform);
        self.load.event(event.chat.platform);
        let key = event.conversation();
        let queued = self.queues.get(&key).map_or(0, VecDeque::len);
        if queued >= self.per_conversation {
            crate::metrics::dropped("conversation_queue_full");
            let notice = self.overflowed.insert(key.clone()).then(|| Reply {
                chat: event.chat.clone(),
                user: event.user.clone(),
                private: false,
                body: ReplyBody::Text {
                    text: self.texts.fill(event.language.as_deref(), "dispatch.skipped", &[]),
                    buttons: Vec::new(),
                },
                retract: None,
            });
            let Accepted { mut envelope, ticket, .. } = accepted;
            self.outboxes.send(key, notice.into_iter().collect(), envelope.done.take(), ticket).await;
            return;
        }
        // In the line among replicas from its arrival (intake placed it; an event taken up from a journal
        // is placed here), so no later event elsewhere runs first.
        let mut accepted = accepted;
        let place = accepted.place.take().or_else(|| self.turns.as_ref().map(|turns| turns.line_up(&key, accepted.at)));
        let queue = self.queues.entry(key.clone()).or_default();
        queue.push_back((accepted, place));
        self.pending += 1;
        if queue.len() == 1 && !self.running.contains(&key) {
            self.ready.push_back(key);
        }
    }

    fn finished(&mut self, key: ConversationKey) {
        self.running.remove(&key);
        self.overflowed.remove(&key);
        match self.queues.get(&key) {
            Some(q) if !q.is_empty() => self.ready.push_back(key),
            _ => {
                self.queues.remove(&key);
            }
        }
    }

    fn start_ready(&mut self) {
        while self.running.len() < self.max_concurrency {
            let Some(key) = self.ready.pop_front() else {
                return;
            };
            let Some((accepted, place)) = self.queues.get_mut(&key).and_then(VecDeque::pop_front) else {
                continue;
            };
            self.pending -= 1;
            self.running.insert(key.clone());
            self.spawn(key, accepted, place);
        }
    }

    fn spawn(&self, key: ConversationKey, accepted: Accepted, place: Option<crate::turns::Waiting>) {
        let guard = DoneGuard { key: Some(key.clone()), tx: self.done_tx.clone() };
        let service = self.service.clone();
        let outboxes = self.outboxes.clone();
        let journal = self.journal.clone();
        let texts = self.texts.clone();
        let stop = self.stop.clone();
        tokio::spawn(async move {
            let Accepted { mut envelope, ticket, at, .. } = accepted;
            // With other replicas: wait until it is this conversation's turn here.
            let turn = match place {
                Some(place) => match place.take(&stop).await {
                    Some(turn) => Some(turn),
                    None => return,
                },
                None => None,
            };
            let caps = outboxes.capabilities(envelope.event.chat.platform);
            let mut request = Request::new(envelope.event, caps);
            request.texts = texts;
            request.done = super::Done::new(envelope.done.take());
            let done = request.done.clone();
            // Apologize (inside the service) turns every failure into an apology, so Err is not expected here.
            let replies = service.oneshot(request).await.unwrap_or_default();
            if let (Some(journal), Some(ticket)) = (&journal, &ticket)
                && !replies.is_empty()
            {
                journal.handled(ticket, replies.clone());
            }
            // The slot is free once the replies are queued; they leave on the conversation's lane. Unless a
            // layer handed the done signal on with the work it started (then that work fires it).
            // A turn is handed on once the replies have left, so they leave in the order the handlers ran.
            let lane = outboxes.queue_since(key, replies, done.take(), ticket, Some(at), turn).await;
            drop(guard);
            // When these replies started the lane's work, this task does it, its slot already free.
            if let Some(lane) = lane {
                lane.await;
            }
        });
    }
}
