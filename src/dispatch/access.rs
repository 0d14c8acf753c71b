//! Who may do what: roles from `[roles]`, matched by immutable platform id (never by display name), and the
//! blocklist; the layer attaches a user's roles to each request and drops events from blocked users.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::task::{Context, Poll};

use tower::{Layer, Service};

use super::Request;
use crate::event::UserRef;

/// Role assignments: identity → roles held.
#[derive(Clone, Debug, Default)]
pub struct Roles {
    by_user: HashMap<UserRef, Arc<BTreeSet<String>>>,
}

impl Roles {
    /// Builds the table from `[roles]` (role → identities). Identities must already be valid (the config
    /// loader checks them); invalid ones are skipped.
    pub fn from_config(roles: &BTreeMap<String, Vec<String>>) -> Self {
        let mut sets: HashMap<UserRef, BTreeSet<String>> = HashMap::new();
        for (role, members) in roles {
            for user in members.iter().filter_map(|m| m.parse::<UserRef>().ok()) {
                sets.entry(user).or_default().insert(role.clone());
            }
        }
        Self { by_user: sets.into_iter().map(|(u, r)| (u, Arc::new(r))).collect() }
    }

    /// The roles `user` holds.
    pub fn of(&self, user: &UserRef) -> Arc<BTreeSet<String>> {
        self.by_user.get(user).cloned().unwrap_or_default()
    }
}

/// Who may do what: role assignments (reloadable) and the blocklist (persisted in `core.admin.blocked`).
#[derive(Default)]
pub struct Access {
    // std RwLocks: read on every event, written by admin commands; never held across an await.
    roles: std::sync::RwLock<Roles>,
    blocked: std::sync::RwLock<std::collections::HashSet<UserRef>>,
    store: Option<crate::store::SharedStore>,
}

/// Where blocks are kept: not under the blocked user as a data subject, so a block outlives the erasure of
/// their data (legitimate interest in stopping abuse); the key is a keyed hash of the identity, the value sealed.
pub const BLOCKED: &str = "core.admin.blocked";

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access").finish_non_exhaustive()
    }
}

impl Access {
    /// Access with `roles` and an empty blocklist kept in memory only.
    pub fn with_roles(roles: Roles) -> Arc<Self> {
        Arc::new(Self { roles: std::sync::RwLock::new(roles), blocked: Default::default(), store: None })
    }

    /// Access with `roles`; the blocklist is loaded from `store` (when given) and kept there.
    pub async fn new(
        roles: Roles,
        store: Option<crate::store::SharedStore>,
    ) -> Result<Arc<Self>, crate::store::StoreError> {
        let mut blocked = std::collections::HashSet::new();
        if let Some(store) = &store {
            for rec in store.scan(BLOCKED).await? {
                if let Ok(user) = String::from_utf8_lossy(&rec.value).parse::<UserRef>() {
                    blocked.insert(user);
                }
            }
        }
        Ok(Arc::new(Self { roles: std::sync::RwLock::new(roles), blocked: std::sync::RwLock::new(blocked), store }))
    }

    /// The roles `user` holds.
    pub fn roles_of(&self, user: &UserRef) -> Arc<BTreeSet<String>> {
        self.roles.read().unwrap_or_else(std::sync::PoisonError::into_inner).of(user)
    }

    /// Replaces the role assignments (configuration reload).
    pub fn set_roles(&self, roles: Roles) {
        *self.roles.write().unwrap_or_else(std::sync::PoisonError::into_inner) = roles;
    }

    /// Whether the store holds a block for `user` (what exports and `/forget` report).
    pub async fn is_blocked_in(
        store: &dyn crate::store::Store,
        user: &UserRef,
    ) -> Result<bool, crate::store::StoreError> {
        let id = user.to_string();
        let key = crate::store::RecordKey { namespace: BLOCKED, subject: None, id: id.as_bytes() };
        Ok(store.get(key).await?.is_some())
    }

    /// True when `user` is blocked, or an identity linked with `user` is (a block applies to the person).
    pub fn is_blocked(&self, user: &UserRef) -> bool {
        let blocked = self.blocked.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        if blocked.is_empty() {
            return false;
        }
        if blocked.contains(user) {
            return true;
        }
        // Only a linked identity can be blocked through another one (one keyed hash per event; the rare
        // linked user's check goes through the block list).
        let subject = crate::store::Subject::user(user);
        let Some(store) = self.store.as_ref().filter(|s| s.is_linked(&subject)) else { return false };
        let person = store.person_id(&subject);
        blocked.iter().any(|b| store.person_id(&crate::store::Subject::user(b)) == person)
    }

    /// Blocks or unblocks `user` (persisted, flushed); returns whether anything changed.
    pub async fn set_blocked(&self, user: &UserRef, blocked: bool) -> Result<bool, crate::store::StoreError> {
        if let Some(store) = &self.store {
            // Not filed under the user as a subject: a block outlives the erasure of their data (legitimate
            // interest in preventing abuse); the key is a keyed hash of the identity, the value sealed.
            let id = user.to_string();
            let key = crate::store::RecordKey { namespace: BLOCKED, subject: None, id: id.as_bytes() };
            if blocked {
                store.put(key, user.to_string().as_bytes(), crate::store::Durability::Flushed).await?;
            } else {
                store.delete(key, crate::store::Durability::Flushed).await?;
            }
        }
        let mut set = self.blocked.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(if blocked { set.insert(user.clone()) } else { set.remove(user) })
    }
}

/// Layer adding [`AccessControl`].
#[derive(Clone, Debug)]
pub struct AccessLayer {
    access: Arc<Access>,
}

impl AccessLayer {
    /// Uses `access`.
    pub fn new(access: Arc<Access>) -> Self {
        Self { access }
    }
}

impl<S> Layer<S> for AccessLayer {
    type Service = AccessControl<S>;
    fn layer(&self, inner: S) -> Self::Service {
        AccessControl { inner, access: self.access.clone() }
    }
}

/// Fills [`Request::roles`] and drops events from blocked users (silently: a blocked user learns nothing).
#[derive(Clone, Debug)]
pub struct AccessControl<S> {
    inner: S,
    access: Arc<Access>,
}

impl<S> Service<Request> for AccessControl<S>
where
    S: Service<Request, Response = super::Response, Error = super::DispatchError>,
    S::Future: Send + 'static,
{
    type Response = super::Response;
    type Error = super::DispatchError;
    type Future = futures::future::BoxFuture<'static, Result<super::Response, super::DispatchError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        if self.access.is_blocked(&req.event.user) {
            tracing::info!(platform = %req.event.user.platform, "dropped an event from a blocked user");
            return Box::pin(async { Ok(Vec::new()) });
        }
        req.roles = self.access.roles_of(&req.event.user);
        Box::pin(self.inner.call(req))
    }
}
