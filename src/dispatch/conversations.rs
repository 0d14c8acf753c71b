//! Ordering and concurrency: one queue per conversation, at most one event per conversation in flight, at
//! most `max_concurrency` events in flight overall, and at most `queue_capacity` accepted-but-not-started
//! events before intake stops pulling (which makes adapters wait: backpressure).
//!
//! All bookkeeping lives in this one task; handler tasks only report back through a channel, so there are
//! no locks and no window in which two events of one conversation run at once.

use std::collections::{HashMap, HashSet, VecDeque};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::{EventService, Outboxes, Request};
use crate::adapter::Envelope;
use crate::config::DispatchSettings;
use crate::event::ConversationKey;

pub(super) struct Conversations {
    service: EventService,
    outboxes: Outboxes,
    queues: HashMap<ConversationKey, VecDeque<Envelope>>,
    running: HashSet<ConversationKey>,
    ready: VecDeque<ConversationKey>,
    pending: usize,
    max_concurrency: usize,
    max_pending: usize,
    done_tx: mpsc::UnboundedSender<ConversationKey>,
    done_rx: mpsc::UnboundedReceiver<ConversationKey>,
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
    pub(super) fn new(service: EventService, outboxes: Outboxes, settings: &DispatchSettings) -> Self {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        Self {
            service,
            outboxes,
            queues: HashMap::new(),
            running: HashSet::new(),
            ready: VecDeque::new(),
            pending: 0,
            max_concurrency: settings.max_concurrency.max(1),
            max_pending: settings.queue_capacity.max(1),
            done_tx,
            done_rx,
        }
    }

    pub(super) async fn run(mut self, mut intake: mpsc::Receiver<Envelope>, shutdown: CancellationToken) {
        let mut closing = false;
        let mut intake_open = true;
        loop {
            self.start_ready();
            if !intake_open && self.running.is_empty() && self.pending == 0 {
                break;
            }
            let can_take = intake_open && self.pending < self.max_pending;
            tokio::select! {
                biased;
                Some(key) = self.done_rx.recv() => self.finished(key),
                () = shutdown.cancelled(), if !closing => {
                    // Stop intake: adapters' submissions now fail; events already accepted still run.
                    closing = true;
                    intake.close();
                }
                envelope = intake.recv(), if can_take => match envelope {
                    Some(envelope) => self.enqueue(envelope),
                    None => intake_open = false,
                },
            }
        }
        tracing::debug!("scheduler drained");
    }

    fn enqueue(&mut self, envelope: Envelope) {
        crate::metrics::event_in(envelope.event.chat.platform);
        let key = envelope.event.conversation();
        let queue = self.queues.entry(key.clone()).or_default();
        queue.push_back(envelope);
        self.pending += 1;
        if queue.len() == 1 && !self.running.contains(&key) {
            self.ready.push_back(key);
        }
    }

    fn finished(&mut self, key: ConversationKey) {
        self.running.remove(&key);
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
            let Some(envelope) = self.queues.get_mut(&key).and_then(VecDeque::pop_front) else {
                continue;
            };
            self.pending -= 1;
            self.running.insert(key.clone());
            self.spawn(key, envelope);
        }
    }

    fn spawn(&self, key: ConversationKey, envelope: Envelope) {
        let guard = DoneGuard { key: Some(key), tx: self.done_tx.clone() };
        let service = self.service.clone();
        let outboxes = self.outboxes.clone();
        tokio::spawn(async move {
            let _guard = guard;
            let Envelope { event, done } = envelope;
            let caps = outboxes.capabilities(event.chat.platform);
            let mut request = Request::new(event, caps);
            request.done = super::Done::new(done);
            let done = request.done.clone();
            // Apologize (inside the service) turns every failure into an apology, so Err is not expected here.
            let replies = service.oneshot(request).await.unwrap_or_default();
            outboxes.deliver(replies).await;
            // Unless a layer handed the signal on with the work it started (then that work fires it).
            if let Some(done) = done.take() {
                let _ = done.send(());
            }
        });
    }
}
