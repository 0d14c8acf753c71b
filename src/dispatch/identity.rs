//! Attaches the user's roles from `[roles]`, matched by immutable platform id (never by display name).

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

/// Layer adding [`Identity`].
#[derive(Clone, Debug)]
pub struct IdentityLayer {
    roles: Arc<Roles>,
}

impl IdentityLayer {
    /// Uses `roles`.
    pub fn new(roles: Roles) -> Self {
        Self { roles: Arc::new(roles) }
    }
}

impl<S> Layer<S> for IdentityLayer {
    type Service = Identity<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Identity { inner, roles: self.roles.clone() }
    }
}

/// Fills [`Request::roles`].
#[derive(Clone, Debug)]
pub struct Identity<S> {
    inner: S,
    roles: Arc<Roles>,
}

impl<S: Service<Request>> Service<Request> for Identity<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        req.roles = self.roles.of(&req.event.user);
        self.inner.call(req)
    }
}
