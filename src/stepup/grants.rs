//! Step-up grants: proof of a recent verification, scoped to (user, conversation, scope) and expiring after
//! `grant_ttl`. Kept in memory only: a restart asks again, which is the safe direction.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, PoisonError};

use crate::event::ConversationKey;

/// Live grants.
#[derive(Debug, Default)]
pub struct Grants {
    // std Mutex: held for a map lookup, never across an await.
    live: Mutex<HashMap<(ConversationKey, String), u64>>,
}

impl Grants {
    /// Grants `scope` in `conv` until `until_ms`.
    pub fn grant(&self, conv: ConversationKey, scope: String, until_ms: u64) {
        self.live.lock().unwrap_or_else(PoisonError::into_inner).insert((conv, scope), until_ms);
    }

    /// The scopes granted in `conv` that are still valid at `now_ms` (expired ones are dropped).
    pub fn valid(&self, conv: &ConversationKey, now_ms: u64) -> BTreeSet<String> {
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        live.retain(|_, until| *until > now_ms);
        live.keys().filter(|(c, _)| c == conv).map(|(_, s)| s.clone()).collect()
    }

    /// Revokes every grant of `user` (after 2FA is disabled or reset).
    pub fn revoke_user(&self, user: &crate::event::UserRef) {
        self.live.lock().unwrap_or_else(PoisonError::into_inner).retain(|(c, _), _| &c.user != user);
    }
}
