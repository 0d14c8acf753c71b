//! The group chats and channels the bot has been written to in: a plugin may post in one of them first
//! ([`palisade_core::Ctx::post_to`]), not in a chat the bot never heard from. Recorded in `core.chats` (about
//! nobody; the chat's reference sealed under the store's key) the first time each process sees a chat, so a
//! chat stays known across restarts and, with a shared store, across replicas; kept for
//! [`CHATS_KEPT_FOR`] after it was last recorded. Direct chats are not recorded: a person is written to with
//! [`palisade_core::Ctx::send_to`], under its own rules.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use palisade_core::store::RecordKey;
use palisade_core::{ChatRef, Durability, StoreError};

use crate::store::SharedStore;

/// The namespace the chats are kept in.
pub const NAMESPACE: &str = "core.chats";

/// How long a chat nobody wrote in is kept (a year and a month).
pub const CHATS_KEPT_FOR: Duration = Duration::from_secs(395 * 24 * 3600);

/// The chats the bot has seen.
pub struct ChatBook {
    store: SharedStore,
    /// Chats this process recorded already (std Mutex: never held across an await).
    recorded: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for ChatBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatBook").finish_non_exhaustive()
    }
}

/// The record id of `chat`: its platform and id (a thread within it is the same chat).
fn id(chat: &ChatRef) -> String {
    format!("{}:{}", chat.platform, chat.id)
}

impl ChatBook {
    /// A book kept in `store`.
    pub fn new(store: SharedStore) -> Self {
        Self { store, recorded: Mutex::new(HashSet::new()) }
    }

    /// Records `chat` when it is a group or channel this process has not recorded yet.
    pub async fn remember(&self, chat: &ChatRef) -> Result<(), StoreError> {
        if chat.is_private() {
            return Ok(());
        }
        let id = id(chat);
        {
            // Every group event passes here: a chat recorded already costs a lookup, nothing more.
            let mut recorded = self.recorded.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if recorded.contains(&id) {
                return Ok(());
            }
            recorded.insert(id.clone());
        }
        let bare = ChatRef::new(chat.platform, chat.id.clone(), chat.kind);
        let value = serde_json::to_vec(&bare).map_err(|e| StoreError::Backend {
            op: "encode",
            namespace: NAMESPACE.into(),
            reason: e.to_string(),
        })?;
        let at = RecordKey { namespace: NAMESPACE, subject: None, id: id.as_bytes() };
        let written = self.store.put(at, &value, Durability::Batched).await;
        if written.is_err() {
            // Not recorded after all: try again at the next event from it.
            self.recorded.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&id);
        }
        written
    }

    /// True when the bot has been written to in `chat` (a group or channel; any thread of it).
    pub async fn knows(&self, chat: &ChatRef) -> Result<bool, StoreError> {
        if chat.is_private() {
            return Ok(false);
        }
        let id = id(chat);
        if self.recorded.lock().unwrap_or_else(std::sync::PoisonError::into_inner).contains(&id) {
            return Ok(true);
        }
        let found = self.store.get(RecordKey { namespace: NAMESPACE, subject: None, id: id.as_bytes() }).await?;
        Ok(found.is_some_and(|r| serde_json::from_slice::<ChatRef>(&r.value).is_ok_and(|c| c.kind == chat.kind)))
    }
}
