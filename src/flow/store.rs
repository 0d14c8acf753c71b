//! Persistence of running flows: one record per (user, chat) in the `core.flows` namespace.

use serde::{Deserialize, Serialize};

use super::Flow;
use crate::event::{ChatRef, ConversationKey, UserRef};
use crate::store::{Durability, RecordKey, SharedStore, StoreError, Subject};

const NAMESPACE: &str = "core.flows";

/// A flow as persisted, with where it runs and when it last moved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlowState {
    /// Owning plugin.
    pub plugin: String,
    /// The user.
    pub user: UserRef,
    /// The chat.
    pub chat: ChatRef,
    /// The flow itself.
    pub flow: Flow,
    /// Last activity, ms since the Unix epoch.
    pub updated_at_ms: u64,
    /// The command that started the flow (its role and step-up requirement are checked again when one of the
    /// flow's buttons is pressed).
    #[serde(default)]
    pub origin: Option<String>,
}

impl FlowState {
    /// True when idle for longer than `idle_ms` at `now_ms`.
    pub fn is_expired(&self, now_ms: u64, idle_ms: u64) -> bool {
        now_ms.saturating_sub(self.updated_at_ms) > idle_ms
    }
}

/// Loads and saves flow states through the [`crate::Store`].
#[derive(Clone)]
pub struct FlowStore {
    store: SharedStore,
}

impl std::fmt::Debug for FlowStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FlowStore")
    }
}

fn codec(e: &serde_json::Error) -> StoreError {
    StoreError::Codec { namespace: NAMESPACE.into(), reason: e.to_string() }
}

impl FlowStore {
    /// Flow states kept in `store`.
    pub fn new(store: SharedStore) -> Self {
        Self { store }
    }

    /// The running flow in a conversation, if any.
    pub async fn load(&self, conv: &ConversationKey) -> Result<Option<FlowState>, StoreError> {
        let subject = Subject::user(&conv.user);
        let key = RecordKey { namespace: NAMESPACE, subject: Some(&subject), id: conv.chat_id.as_bytes() };
        let Some(rec) = self.store.get(key).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&rec.value).map(Some).map_err(|e| codec(&e))
    }

    /// Saves a flow state. Batched: losing the last step in a crash costs the user one answer, not data.
    pub async fn save(&self, state: &FlowState) -> Result<(), StoreError> {
        let subject = Subject::user(&state.user);
        let id = state.chat.conversation_id();
        let key = RecordKey { namespace: NAMESPACE, subject: Some(&subject), id: id.as_bytes() };
        let bytes = zeroize::Zeroizing::new(serde_json::to_vec(state).map_err(|e| codec(&e))?);
        self.store.put(key, &bytes, Durability::Batched).await
    }

    /// Ends the flow in a conversation; returns whether one was running.
    pub async fn remove(&self, conv: &ConversationKey) -> Result<bool, StoreError> {
        let subject = Subject::user(&conv.user);
        let key = RecordKey { namespace: NAMESPACE, subject: Some(&subject), id: conv.chat_id.as_bytes() };
        self.store.delete(key, Durability::Batched).await
    }

    /// Every flow idle for longer than `idle_ms`; unreadable records are skipped by the store.
    pub async fn expired(&self, now_ms: u64, idle_ms: u64) -> Result<Vec<FlowState>, StoreError> {
        let mut out = Vec::new();
        for rec in self.store.scan(NAMESPACE).await? {
            match serde_json::from_slice::<FlowState>(&rec.value) {
                Ok(state) if state.is_expired(now_ms, idle_ms) => out.push(state),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %codec(&e), "skipping a flow record that does not decode")
                }
            }
        }
        Ok(out)
    }
}
