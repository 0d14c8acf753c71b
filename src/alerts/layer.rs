//! Counting every handled message toward the `messages_per_user` rule, as a layer.

use std::sync::Arc;

use super::{Alerts, Signal};

/// Layer counting every handled message toward the `messages_per_user` rule (a bot adds it with
/// `DispatcherBuilder::layer`).
#[derive(Clone, Debug)]
pub struct CountLayer {
    alerts: Arc<Alerts>,
}

impl CountLayer {
    /// Counts into `alerts`.
    pub fn new(alerts: Arc<Alerts>) -> Self {
        Self { alerts }
    }
}

impl<S> tower::Layer<S> for CountLayer {
    type Service = Count<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Count { inner, alerts: self.alerts.clone() }
    }
}

/// Counts each request's user, then hands it on.
#[derive(Clone, Debug)]
pub struct Count<S> {
    inner: S,
    alerts: Arc<Alerts>,
}

impl<S> tower::Service<crate::dispatch::Request> for Count<S>
where
    S: tower::Service<crate::dispatch::Request>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: crate::dispatch::Request) -> Self::Future {
        self.alerts.observe(Signal::Message(req.event.user.clone()));
        self.inner.call(req)
    }
}
