//! Scheduled jobs ([`crate::plugin::Job`]): kept sealed under their user in `core.jobs` (erased with the
//! user, listed by exports), indexed in memory by due time, and run when due — after a restart too — in the
//! chat they were scheduled in. A job whose record is gone (erased, or done by another run) is skipped.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::clock::SharedClock;
use crate::dispatch::{Access, Router};
use crate::event::{ConversationKey, UserRef};
use crate::outboxes::Outboxes;
use crate::plugin::{Job, JobRequest};
use crate::store::{Durability, RecordKey, SharedStore, StoreError, Subject};

/// Where jobs are kept.
pub const NAMESPACE: &str = "core.jobs";
/// The longest the runner sleeps without looking again.
const NAP: Duration = Duration::from_secs(60);

/// (due, id, user): what the index holds of a job.
type Slot = (u64, String, UserRef);

/// The job store and its runner.
pub struct Jobs {
    store: SharedStore,
    clock: SharedClock,
    // std Mutex: set operations only; never held across an await.
    index: Mutex<BTreeSet<Slot>>,
    changed: Notify,
}

impl std::fmt::Debug for Jobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jobs").finish_non_exhaustive()
    }
}

fn codec(e: &serde_json::Error) -> StoreError {
    StoreError::Codec { namespace: NAMESPACE.into(), reason: e.to_string() }
}

impl Jobs {
    /// Jobs in `store` (call [`Jobs::load`] before running).
    pub fn new(store: SharedStore, clock: SharedClock) -> Arc<Self> {
        Arc::new(Self { store, clock, index: Mutex::default(), changed: Notify::new() })
    }

    /// Reads every stored job into the index; returns how many.
    pub async fn load(&self) -> Result<usize, StoreError> {
        let jobs: Vec<Job> =
            self.store.scan(NAMESPACE).await?.iter().filter_map(|r| serde_json::from_slice(&r.value).ok()).collect();
        let mut index = self.index.lock().unwrap_or_else(PoisonError::into_inner);
        for job in &jobs {
            index.insert((job.due_ms, job.id.clone(), job.user.clone()));
        }
        Ok(jobs.len())
    }

    /// How many jobs are waiting.
    pub fn waiting(&self) -> usize {
        self.index.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Stores the job `plugin` asked for while handling an event of `user` in `chat`.
    pub async fn add(
        &self,
        plugin: &str,
        req: JobRequest,
        user: &UserRef,
        chat: &crate::event::ChatRef,
    ) -> Result<(), StoreError> {
        let id =
            crate::crypto::hex(&crate::crypto::random_bytes(12).map_err(|e| StoreError::MasterKey(e.to_string()))?);
        let job = Job {
            id,
            plugin: plugin.to_string(),
            name: req.name.to_string(),
            data: req.data,
            due_ms: self.clock.now_ms() + crate::clock::millis(req.after),
            every_ms: req.every.map(crate::clock::millis),
            user: user.clone(),
            chat: chat.clone(),
        };
        self.save(&job).await
    }

    async fn save(&self, job: &Job) -> Result<(), StoreError> {
        let subject = Subject::user(&job.user);
        let bytes = zeroize::Zeroizing::new(serde_json::to_vec(job).map_err(|e| codec(&e))?);
        let key = RecordKey { namespace: NAMESPACE, subject: Some(&subject), id: job.id.as_bytes() };
        self.store.put(key, &bytes, Durability::Flushed).await?;
        self.index.lock().unwrap_or_else(PoisonError::into_inner).insert((
            job.due_ms,
            job.id.clone(),
            job.user.clone(),
        ));
        self.changed.notify_one();
        Ok(())
    }

    async fn load_one(&self, id: &str, user: &UserRef) -> Result<Option<Job>, StoreError> {
        let subject = Subject::user(user);
        let key = RecordKey { namespace: NAMESPACE, subject: Some(&subject), id: id.as_bytes() };
        match self.store.get(key).await? {
            Some(rec) => serde_json::from_slice(&rec.value).map(Some).map_err(|e| codec(&e)),
            None => Ok(None),
        }
    }

    async fn remove(&self, job: &Job) -> Result<(), StoreError> {
        let subject = Subject::user(&job.user);
        let key = RecordKey { namespace: NAMESPACE, subject: Some(&subject), id: job.id.as_bytes() };
        self.store.delete(key, Durability::Flushed).await.map(|_| ())
    }

    /// Takes the index entries due by now.
    fn take_due(&self) -> Vec<Slot> {
        let now = self.clock.now_ms();
        let mut index = self.index.lock().unwrap_or_else(PoisonError::into_inner);
        let mut due = Vec::new();
        while index.first().is_some_and(|(at, ..)| *at <= now) {
            due.extend(index.pop_first());
        }
        due
    }

    fn next_due(&self) -> Option<u64> {
        self.index.lock().unwrap_or_else(PoisonError::into_inner).first().map(|(at, ..)| *at)
    }

    /// Runs due jobs until `stop`: each through `router` (its plugin's `job` handler), its replies sent on its
    /// conversation's lane. Jobs of blocked users are kept but not run.
    pub async fn run(
        self: Arc<Self>,
        router: Router,
        outboxes: Outboxes,
        access: Arc<Access>,
        stop: CancellationToken,
    ) {
        loop {
            for (_, id, user) in self.take_due() {
                if let Err(error) = self.run_one(&id, &user, &router, &outboxes, &access).await {
                    tracing::warn!(%error, "a scheduled job failed");
                }
            }
            let wait = self
                .next_due()
                .map_or(NAP, |at| Duration::from_millis(at.saturating_sub(self.clock.now_ms())).min(NAP));
            tokio::select! {
                () = stop.cancelled() => return,
                () = self.changed.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    async fn run_one(
        &self,
        id: &str,
        user: &UserRef,
        router: &Router,
        outboxes: &Outboxes,
        access: &Access,
    ) -> Result<(), StoreError> {
        // Gone: erased with its user, or cancelled.
        let Some(mut job) = self.load_one(id, user).await? else { return Ok(()) };
        if access.is_blocked(&job.user) {
            tracing::debug!("a job of a blocked user was not run");
        } else {
            let replies = router.run_job(&job, outboxes.capabilities(job.chat.platform)).await;
            let lane = ConversationKey { user: job.user.clone(), chat_id: job.chat.conversation_id() };
            outboxes.send(lane, replies, None, None).await;
        }
        match job.every_ms {
            Some(every) => {
                let now = self.clock.now_ms();
                while job.due_ms <= now {
                    job.due_ms += every.max(1);
                }
                self.save(&job).await
            }
            None => self.remove(&job).await,
        }
    }
}
