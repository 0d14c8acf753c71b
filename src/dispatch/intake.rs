//! The intake: what happens to a submitted event before an adapter may acknowledge it to its platform.
//!
//! In order, for a batch of whatever is waiting (so one flush covers many events): a delivery seen before is
//! accepted and dropped; an event over its rate limits is dropped (with one notice to the user); the rest
//! are journaled, the journal is flushed once, and only then is each submission answered and its event
//! handed to the scheduler. A flood therefore costs a token-bucket check per event, never a disk write, and
//! never queues ahead of anyone else.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Limiter;
use super::ratelimit::Verdict;
use crate::adapter::{Admission, Envelope, SinkError};
use crate::clock::SharedClock;
use crate::journal::{Journal, Ticket};
use crate::outboxes::Outboxes;
use crate::reply::{Reply, ReplyBody};

/// Most events accepted with one flush.
const BATCH: usize = 256;

/// An event accepted for handling, with its journal entry.
pub(super) struct Accepted {
    pub envelope: Envelope,
    pub ticket: Option<Ticket>,
    /// When intake took it (reply latency is measured from here).
    pub at: tokio::time::Instant,
    /// With other replicas: its place in its conversation's line, taken before it was acknowledged.
    pub place: Option<crate::turns::Waiting>,
}

pub(super) struct Intake {
    pub journal: Option<Arc<Journal>>,
    pub limiter: Option<Arc<Limiter>>,
    pub outboxes: Outboxes,
    pub clock: SharedClock,
    pub texts: Arc<palisade_core::texts::Texts>,
    /// With other replicas: the lines of turns events take their place in before they are acknowledged.
    pub turns: Option<Arc<crate::turns::Turns>>,
}

fn answer(envelope: &mut Envelope, result: Result<Admission, SinkError>) {
    if let Some(accepted) = envelope.accepted.take() {
        let _ = accepted.send(result);
    }
}

impl Intake {
    /// Accepts events from `rx` until `shutdown`, handing them to `tx`. After `shutdown`, waiting and new
    /// submissions are refused ([`SinkError::Closed`]).
    pub(super) async fn run(
        self,
        mut rx: mpsc::Receiver<Envelope>,
        tx: mpsc::Sender<Accepted>,
        shutdown: CancellationToken,
    ) {
        loop {
            let first = tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                next = rx.recv() => match next {
                    Some(envelope) => envelope,
                    None => break,
                },
            };
            let mut batch = vec![first];
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(envelope) => batch.push(envelope),
                    Err(_) => break,
                }
            }
            for accepted in self.accept(batch).await {
                if tx.send(accepted).await.is_err() {
                    break;
                }
            }
        }
        rx.close();
        while let Ok(mut envelope) = rx.try_recv() {
            answer(&mut envelope, Err(SinkError::Closed));
        }
    }

    async fn accept(&self, batch: Vec<Envelope>) -> Vec<Accepted> {
        let mut out = Vec::with_capacity(batch.len());
        let now_ms = self.clock.now_ms();
        // Numbered streams one of whose deliveries was not accepted: the rest of the batch from them is not
        // either (it comes again after that one, and the stream's mark must not pass it).
        let mut stalled: Vec<String> = Vec::new();
        for mut envelope in batch {
            let claimed = match &self.journal {
                Some(journal) => claim(journal, &envelope, &stalled, now_ms).await,
                None => Ok(Claim::New(None)),
            };
            let marked = match claimed {
                Ok(Claim::New(marked)) => marked,
                Ok(Claim::Repeat) => {
                    crate::metrics::duplicate();
                    tracing::debug!("a delivery seen before was dropped");
                    answer(&mut envelope, Ok(Admission::Repeat));
                    if let Some(done) = envelope.done.take() {
                        let _ = done.send(());
                    }
                    continue;
                }
                Err(error) => {
                    if let Some(numbered) = &envelope.numbered {
                        stalled.push(numbered.stream.clone());
                    }
                    answer(&mut envelope, Err(SinkError::Journal(error)));
                    continue;
                }
            };
            if !envelope.resumed
                && let Some(limiter) = &self.limiter
            {
                let event = &envelope.event;
                match limiter.check(&event.user, &event.conversation()).await {
                    Verdict::Pass => {}
                    verdict @ (Verdict::Notify(scope) | Verdict::Silent(scope)) => {
                        crate::metrics::rate_limited(scope);
                        crate::metrics::dropped("ratelimit");
                        if matches!(verdict, Verdict::Notify(_)) {
                            let notice = Reply {
                                chat: event.chat.clone(),
                                user: event.user.clone(),
                                private: false,
                                body: ReplyBody::Text {
                                    text: self.texts.fill(event.language.as_deref(), "dispatch.slow_down", &[]),
                                    buttons: Vec::new(),
                                },
                                retract: None,
                            };
                            self.outboxes.send(event.conversation(), vec![notice], None, None).await;
                        }
                        // Dropped on purpose: the platform must not retry it.
                        answer(&mut envelope, Ok(Admission::Limited));
                        if let Some(done) = envelope.done.take() {
                            let _ = done.send(());
                        }
                        continue;
                    }
                }
            }
            let ticket = match &self.journal {
                None => None,
                Some(journal) => match journal.accept(&envelope.event, now_ms).await {
                    Ok(ticket) => Some(ticket),
                    Err(error) => {
                        match (marked, &envelope.numbered) {
                            (Some(previous), Some(numbered)) => {
                                journal.release_numbered(&numbered.stream, previous);
                                stalled.push(numbered.stream.clone());
                            }
                            _ => release(journal, &envelope).await,
                        }
                        answer(&mut envelope, Err(SinkError::Journal(error.to_string())));
                        continue;
                    }
                },
            };
            out.push(Accepted { envelope, ticket, at: tokio::time::Instant::now(), place: None });
        }
        if let Some(turns) = &self.turns {
            place(turns, &mut out).await;
        }
        if let Some(journal) = &self.journal {
            let (marks, written) = journal.write_marks(now_ms).await;
            let flushed = match written {
                Ok(()) if out.is_empty() => Ok(()),
                Ok(()) => journal.flush().await,
                Err(error) => Err(error),
            };
            if let Err(error) = flushed {
                tracing::error!(%error, "could not record accepted events; the platform is asked to retry");
                journal.refuse_staged();
                journal.undo_marks(marks).await;
                for accepted in &mut out {
                    if !by_mark(journal, &accepted.envelope) {
                        release(journal, &accepted.envelope).await;
                    }
                    answer(&mut accepted.envelope, Err(SinkError::Journal(error.to_string())));
                }
                return Vec::new();
            }
        }
        for accepted in &mut out {
            answer(&mut accepted.envelope, Ok(Admission::Accepted));
        }
        out
    }
}

/// Puts accepted events in their conversations' lines before they are acknowledged, so none that came later
/// on another replica runs first: one conversation's events one after the other (they would race for its
/// line), conversations side by side.
async fn place(turns: &Arc<crate::turns::Turns>, accepted: &mut [Accepted]) {
    let mut by_conversation: Vec<(crate::event::ConversationKey, Vec<usize>)> = Vec::new();
    let mut group: std::collections::HashMap<crate::event::ConversationKey, usize> = std::collections::HashMap::new();
    for (i, a) in accepted.iter().enumerate() {
        let key = a.envelope.event.conversation();
        match group.get(&key) {
            Some(&g) => by_conversation[g].1.push(i),
            None => {
                group.insert(key.clone(), by_conversation.len());
                by_conversation.push((key, vec![i]));
            }
        }
    }
    let arrivals: Vec<tokio::time::Instant> = accepted.iter().map(|a| a.at).collect();
    let placed = futures::future::join_all(by_conversation.iter().map(|(key, indexes)| {
        let arrivals = &arrivals;
        async move {
            let mut places = Vec::with_capacity(indexes.len());
            for &i in indexes {
                places.push((i, turns.line_up_now(key, arrivals[i]).await));
            }
            places
        }
    }))
    .await;
    for (i, place) in placed.into_iter().flatten() {
        accepted[i].place = Some(place);
    }
}

/// What the delivery check found.
enum Claim {
    /// A delivery not seen before (or one without an id): with the stream's mark before it, when it was
    /// told apart by its stream's mark.
    New(Option<u64>),
    /// Seen before.
    Repeat,
}

/// Whether `envelope` is told apart from repeats by its stream's mark (not by its delivery id).
fn by_mark(journal: &Journal, envelope: &Envelope) -> bool {
    envelope.numbered.is_some() && journal.marks_streams()
}

/// Checks `envelope`'s delivery against those seen before: by its stream's mark when it is numbered (and
/// the store is this process's alone), else by its delivery id. A delivery of a `stalled` stream is refused.
async fn claim(journal: &Journal, envelope: &Envelope, stalled: &[String], now_ms: u64) -> Result<Claim, String> {
    match (&envelope.numbered, &envelope.delivery) {
        (Some(numbered), _) if by_mark(journal, envelope) => {
            if stalled.contains(&numbered.stream) {
                return Err("an earlier delivery of the same stream was not accepted; it comes again first".into());
            }
            match journal.claim_numbered(&numbered.stream, numbered.number, now_ms).await {
                Ok(Some(previous)) => Ok(Claim::New(Some(previous))),
                Ok(None) => Ok(Claim::Repeat),
                Err(error) => Err(error.to_string()),
            }
        }
        (_, Some(delivery)) => match journal.claim(delivery, now_ms).await {
            Ok(true) => Ok(Claim::New(None)),
            Ok(false) => Ok(Claim::Repeat),
            Err(error) => Err(error.to_string()),
        },
        (_, None) => Ok(Claim::New(None)),
    }
}

/// Forgets that `envelope`'s delivery was seen: it was not accepted after all, and the platform's retry must
/// not be taken for a repeat.
async fn release(journal: &Journal, envelope: &Envelope) {
    if let Some(delivery) = &envelope.delivery
        && let Err(error) = journal.release(delivery).await
    {
        tracing::warn!(%error, "could not forget a delivery that was not accepted; its retry may be dropped");
    }
}
