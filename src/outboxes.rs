//! Delivery of replies: one send scheduler for all platforms.
//!
//! Handlers hand their replies over and go on (their concurrency slot is free at once); the replies of one
//! conversation leave in order, one after the other, on that conversation's *lane*, while lanes run side by
//! side. Every send is paced to its platform's limits with exact timers ([`pace`]): a reply under its limits
//! leaves immediately, one over them waits exactly as long as needed, and other chats are not held up. The
//! queue is bounded (`[dispatch] send_queue` replies): a handler whose replies find it full waits, which slows
//! intake down instead of growing memory. A reply is split to fit its platform's message limit; a failed
//! send is logged (never with content) and the rest go on.

mod lane;
pub mod pace;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore, oneshot};
use tokio_util::sync::CancellationToken;

use crate::adapter::{Capabilities, Outbox, SendError, SendPolicy};
use crate::event::{ConversationKey, Platform, UserRef};
use crate::journal::{Journal, Ticket};
use crate::reply::{Reply, ReplyBody};
use crate::retractions::{Retractions, Sent};

/// What a user reads when a message that must not stay could not be deleted on their platform.
pub const DELETE_IT_YOURSELF: &str = "I could not delete a message I sent you earlier that carried sensitive content (your two-factor key or recovery codes, or a copy of your data). Please delete it yourself.";

/// Replies queued at most before handlers wait (the default of `[dispatch] send_queue`).
pub const SEND_QUEUE: usize = 10_000;
/// Sends in flight at once over all platforms.
const IN_FLIGHT: usize = 256;

/// One platform's outbox, capabilities and pacing.
struct Destination {
    outbox: Arc<dyn Outbox>,
    caps: Capabilities,
    pace: Mutex<pace::Pace>,
}

/// The replies of one handled event (or one notice), delivered in order, then `done` fired and the journal
/// entry cleared.
struct Batch {
    replies: Vec<Reply>,
    done: Option<oneshot::Sender<()>>,
    ticket: Option<Ticket>,
    /// When the event these replies answer arrived; the first one sent records the reply latency.
    since: Option<tokio::time::Instant>,
    _room: Option<tokio::sync::OwnedSemaphorePermit>,
    /// The conversation's turn among replicas, handed on when the batch is done.
    turn: Option<crate::turns::Turn>,
}

/// The lanes with work, and the bounds.
struct Lanes {
    queues: Mutex<HashMap<ConversationKey, VecDeque<Batch>>>,
    room: Arc<Semaphore>,
    room_size: usize,
    in_flight: Semaphore,
    idle: Notify,
    stop: CancellationToken,
}

impl Default for Lanes {
    fn default() -> Self {
        Self::with_room(SEND_QUEUE)
    }
}

impl Lanes {
    fn with_room(size: usize) -> Self {
        let size = size.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            queues: Mutex::default(),
            room: Arc::new(Semaphore::new(size)),
            room_size: size,
            in_flight: Semaphore::new(IN_FLIGHT),
            idle: Notify::new(),
            stop: CancellationToken::new(),
        }
    }
}

/// The send scheduler and the outbox of every running adapter.
#[derive(Clone, Default)]
pub struct Outboxes {
    /// Shared by every clone (one per handler task): the map is built at start and only read after.
    map: Arc<HashMap<Platform, Arc<Destination>>>,
    retractions: Option<Retractions>,
    journal: Option<Arc<Journal>>,
    lanes: Arc<Lanes>,
}

impl std::fmt::Debug for Outboxes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outboxes").field("platforms", &self.map.keys().collect::<Vec<_>>()).finish()
    }
}

impl Outboxes {
    /// Adds (or replaces) the outbox for `platform`, unpaced.
    pub fn insert(&mut self, platform: Platform, outbox: Arc<dyn Outbox>, caps: Capabilities) {
        self.insert_paced(platform, outbox, caps, SendPolicy::default());
    }

    /// Adds (or replaces) the outbox for `platform`, paced by `policy`.
    pub fn insert_paced(
        &mut self,
        platform: Platform,
        outbox: Arc<dyn Outbox>,
        caps: Capabilities,
        policy: SendPolicy,
    ) {
        let pace = Mutex::new(pace::Pace::new(policy));
        Arc::make_mut(&mut self.map).insert(platform, Arc::new(Destination { outbox, caps, pace }));
    }

    /// Bounds the queue to `replies` (before any send; the default is [`SEND_QUEUE`]).
    pub fn bound(&mut self, replies: usize) {
        self.lanes = Arc::new(Lanes::with_room(replies));
    }

    /// The capabilities of `platform`, or the console's when no adapter is registered for it.
    pub fn capabilities(&self, platform: Platform) -> Capabilities {
        self.map.get(&platform).map_or(Capabilities::CONSOLE, |d| d.caps)
    }

    /// Remembers where retractable messages land in `retractions`, so they can be deleted later.
    pub fn remember_retractable(&mut self, retractions: Retractions) {
        self.retractions = Some(retractions);
    }

    /// Clears journal entries once their replies are delivered.
    pub fn journal(&mut self, journal: Arc<Journal>) {
        self.journal = Some(journal);
    }

    /// Queues `replies` on `lane` (after whatever that lane has queued) and returns once they are queued,
    /// waiting while the queue is full. `done` fires after the last one was delivered (or given up), and
    /// the journal entry `ticket` is then cleared.
    pub async fn send(
        &self,
        lane: ConversationKey,
        replies: Vec<Reply>,
        done: Option<oneshot::Sender<()>>,
        ticket: Option<Ticket>,
    ) {
        if let Some(work) = self.queue_since(lane, replies, done, ticket, None, None).await {
            tokio::spawn(work);
        }
    }

    /// [`Outboxes::send`] for the replies to an event that arrived at `since`, by a task that can do the lane's
    /// work itself: the first reply sent records the reply latency (`palisade_reply_seconds`), and `turn`,
    /// the conversation's turn among replicas, is handed on once they have left. When these replies start the
    /// lane's work (nothing was queued on it), that work — delivering them and whatever is queued after them —
    /// is returned for the caller to run, where `send` starts a task for it. A handler's task runs it once its
    /// concurrency slot is free: one task per event instead of two.
    pub async fn queue_since(
        &self,
        lane: ConversationKey,
        replies: Vec<Reply>,
        done: Option<oneshot::Sender<()>>,
        ticket: Option<Ticket>,
        since: Option<tokio::time::Instant>,
        turn: Option<crate::turns::Turn>,
    ) -> Option<impl Future<Output = ()> + Send + 'static> {
        if replies.is_empty() {
            if let Some(turn) = turn {
                turn.release().await;
            }
            self.finish(done, ticket).await;
            return None;
        }
        let wanted = u32::try_from(replies.len().min(self.lanes.room_size)).unwrap_or(u32::MAX);
        let room = self.lanes.room.clone().acquire_many_owned(wanted).await.ok();
        let batch = Batch { replies, done, ticket, since, _room: room, turn };
        let start = {
            let mut queues = self.lanes.queues.lock().unwrap_or_else(PoisonError::into_inner);
            let queue = queues.entry(lane.clone()).or_default();
            queue.push_back(batch);
            queue.len() == 1
        };
        start.then(|| lane::run(self.clone(), lane))
    }

    /// Sends one reply now, outside any lane (a message a plugin writes first, an edit, a deletion): paced to
    /// its platform's limits like every send, and waited for; returns the platform's message id.
    pub async fn send_now(&self, reply: Reply) -> Result<Option<crate::event::MessageId>, SendError> {
        let platform = reply.chat.platform;
        let dest = self.map.get(&platform).cloned().ok_or(SendError::Unsupported("no adapter for that platform"))?;
        if !matches!(reply.body, ReplyBody::Delete(_)) {
            lane::wait_for_pace(&dest, &reply).await;
        }
        let _slot = self.lanes.in_flight.acquire().await;
        let result = dest.outbox.deliver(&reply).await;
        crate::metrics::reply_out(platform, result.is_ok());
        result
    }

    /// The bytes of `file` from `platform`'s adapter, within `max_bytes` (its declared size is checked first).
    pub async fn fetch(
        &self,
        platform: Platform,
        file: &crate::event::FileInfo,
        max_bytes: u64,
    ) -> Result<Vec<u8>, SendError> {
        if file.size.is_some_and(|s| s > max_bytes) {
            return Err(SendError::Rejected(format!(
                "the file is larger than this bot accepts ({} MB at most)",
                max_bytes.div_ceil(1024 * 1024)
            )));
        }
        let dest = self.map.get(&platform).cloned().ok_or(SendError::Unsupported("no adapter for that platform"))?;
        let bytes = dest.outbox.fetch(file, max_bytes).await?;
        if bytes.len() as u64 > max_bytes {
            return Err(SendError::Rejected("the file is larger than this bot accepts".into()));
        }
        Ok(bytes)
    }

    /// Delivers `replies` and waits until they are delivered (for callers outside a conversation: alerts,
    /// timeouts), on the lane of the first reply's user and chat.
    pub async fn deliver(&self, replies: Vec<Reply>) {
        let Some(first) = replies.first() else { return };
        let lane = ConversationKey { user: first.user.clone(), chat_id: first.chat.conversation_id() };
        let (done, delivered) = oneshot::channel();
        self.send(lane, replies, Some(done), None).await;
        let _ = delivered.await;
    }

    async fn finish(&self, done: Option<oneshot::Sender<()>>, ticket: Option<Ticket>) {
        if let (Some(journal), Some(ticket)) = (&self.journal, &ticket) {
            journal.done(ticket).await;
        }
        if let Some(done) = done {
            let _ = done.send(());
        }
    }

    /// Replies queued or being sent.
    pub fn queued(&self) -> usize {
        self.lanes.room_size - self.lanes.room.available_permits()
    }

    /// Waits until every queued reply was delivered, at most `grace`; then stops the lanes (what is left
    /// stays in the journal for the next start). Returns whether everything was delivered.
    pub async fn drain(&self, grace: Duration) -> bool {
        let drained = tokio::time::timeout(grace, async {
            loop {
                let idle = self.lanes.idle.notified();
                if self.lanes.queues.lock().unwrap_or_else(PoisonError::into_inner).is_empty() {
                    return;
                }
                idle.await;
            }
        })
        .await
        .is_ok();
        if !drained {
            self.lanes.stop.cancel();
        }
        drained
    }

    /// Stops every lane at once (a second signal): replies not yet delivered stay in the journal.
    pub fn stop_now(&self) {
        self.lanes.stop.cancel();
    }

    /// Deletes every message tagged `tag` sent to `user`.
    pub async fn retract(&self, user: &UserRef, tag: &str) {
        let Some(retractions) = &self.retractions else { return };
        match retractions.take(user, tag).await {
            Ok(sent) => self.delete(sent).await,
            Err(error) => tracing::error!(%error, "could not look up messages to delete"),
        }
    }

    /// Deletes every remembered message whose time is up.
    pub async fn retract_due(&self) {
        let Some(retractions) = &self.retractions else { return };
        match retractions.take_due().await {
            Ok(sent) => self.delete(sent).await,
            Err(error) => tracing::warn!(%error, "could not look up messages due for deletion"),
        }
    }

    /// Deletes `sent`; a user whose message could not be deleted is asked, once, to delete it themselves.
    pub async fn delete(&self, sent: Vec<Sent>) {
        let mut asked: Vec<UserRef> = Vec::new();
        for s in sent {
            let Some(outbox) = self.map.get(&s.chat.platform).map(|d| d.outbox.clone()) else { continue };
            let delete = Reply {
                chat: s.chat.clone(),
                user: s.user.clone(),
                private: false,
                body: ReplyBody::Delete(s.message),
                retract: None,
            };
            match outbox.deliver(&delete).await {
                Ok(_) => {}
                Err(error) => {
                    if !matches!(error, SendError::Unsupported(_)) {
                        tracing::warn!(platform = %s.chat.platform, %error, "could not delete a retracted message");
                    }
                    if !asked.contains(&s.user) {
                        asked.push(s.user.clone());
                        let ask = Reply {
                            chat: s.chat,
                            user: s.user,
                            private: true,
                            body: ReplyBody::Text { text: DELETE_IT_YOURSELF.into(), buttons: Vec::new() },
                            retract: None,
                        };
                        let _ = outbox.deliver(&ask).await;
                    }
                }
            }
        }
    }
}
