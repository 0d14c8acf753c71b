//! Abandons a handler that runs longer than `[dispatch] handler_timeout`, so one stuck call cannot hold its
//! conversation (and a concurrency slot) forever.

use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use tower::{Layer, Service};

use super::{DispatchError, Request, Response};

/// Layer adding [`Timeout`].
#[derive(Clone, Copy, Debug)]
pub struct TimeoutLayer {
    limit: Duration,
}

impl TimeoutLayer {
    /// Abandons calls after `limit`.
    pub fn new(limit: Duration) -> Self {
        Self { limit }
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Timeout { inner, limit: self.limit }
    }
}

/// Fails calls that take longer than the limit with [`DispatchError::TimedOut`].
#[derive(Clone, Debug)]
pub struct Timeout<S> {
    inner: S,
    limit: Duration,
}

impl<S> Service<Request> for Timeout<S>
where
    S: Service<Request, Response = Response, Error = DispatchError>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = DispatchError;
    type Future = BoxFuture<'static, Result<Response, DispatchError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let (fut, limit) = (self.inner.call(req), self.limit);
        Box::pin(async move { tokio::time::timeout(limit, fut).await.unwrap_or(Err(DispatchError::TimedOut(limit))) })
    }
}
