//! Contains a panicking handler: the panic becomes [`DispatchError::Panicked`] for this event only.

use std::panic::AssertUnwindSafe;
use std::task::{Context, Poll};

use futures::FutureExt;
use futures::future::BoxFuture;
use tower::{Layer, Service};

use super::{DispatchError, Request, Response};

/// Layer adding [`CatchPanic`].
#[derive(Clone, Copy, Debug, Default)]
pub struct CatchPanicLayer;

impl<S> Layer<S> for CatchPanicLayer {
    type Service = CatchPanic<S>;
    fn layer(&self, inner: S) -> Self::Service {
        CatchPanic { inner }
    }
}

/// Turns a panic in the inner service into an error.
#[derive(Clone, Debug)]
pub struct CatchPanic<S> {
    inner: S,
}

impl<S> Service<Request> for CatchPanic<S>
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
        // AssertUnwindSafe: after a panic the request and its handler state are dropped, never reused; shared
        // state behind the handler (the store) uses poison-tolerant locks.
        let fut = std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(req)));
        Box::pin(async move {
            let fut = fut.map_err(|p| DispatchError::Panicked(panic_text(&*p)))?;
            AssertUnwindSafe(fut).catch_unwind().await.unwrap_or_else(|p| Err(DispatchError::Panicked(panic_text(&*p))))
        })
    }
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-text panic payload".into())
}
