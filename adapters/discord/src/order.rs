//! Putting a conversation's gateway messages back in the order they were sent.
//!
//! serenity runs the handler of each gateway dispatch on a task of its own, and a task spawned later may run
//! first: two messages a user sends in quick succession could reach the dispatcher the wrong way round, and
//! the second answer of a flow would be taken as the first. Each message therefore waits [`SETTLE`] in its
//! conversation's lane, and the lane is then emptied in message-id order (Discord's ids grow with time)
//! while no other emptying of that lane runs. Messages further apart than that arrive in order anyway.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// How long a message waits for earlier messages of its conversation still on their way.
pub const SETTLE: Duration = Duration::from_millis(15);

/// A conversation: the author and the channel.
pub type Lane = (u64, u64);

#[derive(Default)]
struct Waiting<T> {
    /// By message id.
    items: BTreeMap<u64, T>,
    /// Held while the lane is emptied and its items submitted, so lanes empty one after the other.
    gate: Arc<tokio::sync::Mutex<()>>,
}

/// The lanes of messages waiting to be submitted.
pub struct Sequencer<T> {
    lanes: Mutex<HashMap<Lane, Waiting<T>>>,
}

impl<T> Default for Sequencer<T> {
    fn default() -> Self {
        Self { lanes: Mutex::new(HashMap::new()) }
    }
}

impl<T> std::fmt::Debug for Sequencer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sequencer").finish_non_exhaustive()
    }
}

impl<T: Send> Sequencer<T> {
    /// Queues `item` (message `id` in `lane`), waits [`SETTLE`], then hands every item of the lane still
    /// waiting to `submit`, in id order; items another call already handed on are not handed on again.
    pub async fn submit<F, Fut>(&self, lane: Lane, id: u64, item: T, mut submit: F)
    where
        F: FnMut(T) -> Fut,
        Fut: Future<Output = ()>,
    {
        let gate = {
            let mut lanes = self.lanes.lock().unwrap_or_else(PoisonError::into_inner);
            let waiting = lanes.entry(lane).or_insert_with(|| Waiting { items: BTreeMap::new(), gate: Arc::default() });
            waiting.items.insert(id, item);
            waiting.gate.clone()
        };
        tokio::time::sleep(SETTLE).await;
        let _emptying = gate.lock().await;
        let items = {
            let mut lanes = self.lanes.lock().unwrap_or_else(PoisonError::into_inner);
            let items = lanes.get_mut(&lane).map(|w| std::mem::take(&mut w.items)).unwrap_or_default();
            if lanes.get(&lane).is_some_and(|w| w.items.is_empty() && Arc::strong_count(&w.gate) <= 2) {
                // Nobody else waits on this lane (the map's handle and ours): forget it.
                lanes.remove(&lane);
            }
            items
        };
        for (_, item) in items {
            submit(item).await;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn messages_handed_in_out_of_order_leave_in_order() {
        let sequencer = Arc::new(Sequencer::default());
        let out = Arc::new(Mutex::new(Vec::new()));
        // Ten messages of one conversation handed in newest first, and one of another conversation.
        let mut tasks = Vec::new();
        for (lane, id) in (0..10u64).rev().map(|id| ((1, 1), id)).chain([((2, 1), 100)]) {
            let (sequencer, out) = (sequencer.clone(), out.clone());
            tasks.push(tokio::spawn(async move {
                sequencer
                    .submit(lane, id, id, |item| {
                        let out = out.clone();
                        async move { out.lock().unwrap().push(item) }
                    })
                    .await;
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let seen = out.lock().unwrap().clone();
        let first_lane: Vec<u64> = seen.iter().copied().filter(|id| *id < 100).collect();
        assert_eq!(first_lane, (0..10).collect::<Vec<_>>());
        assert!(seen.contains(&100));
        assert!(sequencer.lanes.lock().unwrap().is_empty(), "lanes are forgotten once empty");
    }
}
