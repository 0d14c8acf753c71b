//! Where retractable messages landed (see `palisade_core::Retract`), so they can be deleted later: kept sealed
//! in `core.sent` until they are deleted. They are deliberately not filed under the person as a data subject:
//! erasing someone's data must not lose track of the copies of it that sit in their chats — `/forget` deletes
//! the data exports it sent them right after the erasure, and second factors go at their time.

use serde::{Deserialize, Serialize};

use crate::clock::{SharedClock, millis};
use crate::event::{ChatRef, MessageId, UserRef};
use crate::reply::Retract;
use crate::store::{Durability, RecordKey, SharedStore, StoreError};

/// Where the records live (declared in the core's data manifest).
pub const NAMESPACE: &str = "core.sent";

/// One message to take back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    /// Who it was sent to.
    pub user: UserRef,
    /// The chat it went to (as the reply named it; the message id may name another, e.g. a DM).
    pub chat: ChatRef,
    /// The platform's id of the message, as the adapter returned it.
    pub message: MessageId,
    /// The tag it was sent with.
    pub tag: String,
    /// When it must be gone, ms since the epoch (`u64::MAX`: only when retracted).
    pub delete_at_ms: u64,
}

/// The records of retractable messages.
#[derive(Clone)]
pub struct Retractions {
    store: SharedStore,
    clock: SharedClock,
}

impl std::fmt::Debug for Retractions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Retractions")
    }
}

fn codec(e: &serde_json::Error) -> StoreError {
    StoreError::Codec { namespace: NAMESPACE.into(), reason: e.to_string() }
}

impl Retractions {
    /// Records kept in `store`.
    pub fn new(store: SharedStore, clock: SharedClock) -> Self {
        Self { store, clock }
    }

    /// Remembers that `message` went to `user` in `chat` under `retract` (flushed: a secret that was shown must
    /// be found again after a crash).
    pub async fn record(
        &self,
        user: &UserRef,
        chat: &ChatRef,
        message: MessageId,
        retract: &Retract,
    ) -> Result<(), StoreError> {
        let delete_at_ms = retract.within.map_or(u64::MAX, |w| self.clock.now_ms().saturating_add(millis(w)));
        let sent = Sent { user: user.clone(), chat: chat.clone(), message, tag: retract.tag.clone(), delete_at_ms };
        let id = format!("{}\0{}\0{}\0{}", sent.user, sent.tag, sent.chat.id, sent.message.0);
        let bytes = zeroize::Zeroizing::new(serde_json::to_vec(&sent).map_err(|e| codec(&e))?);
        let key = RecordKey { namespace: NAMESPACE, subject: None, id: id.as_bytes() };
        self.store.put(key, &bytes, Durability::Flushed).await
    }

    /// Takes (and forgets) every message tagged `tag` sent to `user`.
    pub async fn take(&self, user: &UserRef, tag: &str) -> Result<Vec<Sent>, StoreError> {
        self.take_where(|sent| &sent.user == user && sent.tag == tag).await
    }

    /// Takes (and forgets) every message, of anyone, whose time is up.
    pub async fn take_due(&self) -> Result<Vec<Sent>, StoreError> {
        let now = self.clock.now_ms();
        self.take_where(|sent| sent.delete_at_ms <= now).await
    }

    async fn take_where(&self, wanted: impl Fn(&Sent) -> bool) -> Result<Vec<Sent>, StoreError> {
        let mut taken = Vec::new();
        for record in self.store.list(NAMESPACE, None).await? {
            let Ok(sent) = serde_json::from_slice::<Sent>(&record.value) else { continue };
            if wanted(&sent) {
                let key = RecordKey { namespace: NAMESPACE, subject: None, id: &record.id };
                self.store.delete(key, Durability::Flushed).await?;
                taken.push(sent);
            }
        }
        Ok(taken)
    }
}
