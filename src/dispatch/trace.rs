//! Puts each event in a tracing span and logs its outcome, naming only non-personal facts: platform, event
//! kind, reply count and duration. Never user ids, chat ids or text.

use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tower::{Layer, Service};
use tracing::Instrument;

use super::{DispatchError, Request, Response};

/// Layer adding [`Trace`].
#[derive(Clone, Copy, Debug, Default)]
pub struct TraceLayer;

impl<S> Layer<S> for TraceLayer {
    type Service = Trace<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Trace { inner }
    }
}

/// Wraps each call in an `event` span.
#[derive(Clone, Debug)]
pub struct Trace<S> {
    inner: S,
}

impl<S> Service<Request> for Trace<S>
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
        // Only the platform and the kind: even a command name is text the user typed. The router logs the
        // name once it is known to be one of ours.
        let span = tracing::info_span!("event", platform = %req.event.chat.platform, kind = req.event.kind_label());
        if crate::logging::content_enabled()
            && let crate::event::EventKind::Text(t) | crate::event::EventKind::Button(t) = &req.event.kind
        {
            // Debug mode only ([logging] content = true): text with codes and tokens masked.
            tracing::debug!(parent: &span, text = %crate::logging::redact_content(t), "content");
        }
        let started = tokio::time::Instant::now();
        let fut = self.inner.call(req);
        Box::pin(
            async move {
                let result = fut.await;
                let replies = result.as_ref().map_or(0, Vec::len);
                crate::metrics::handled(started.elapsed().as_secs_f64());
                tracing::debug!(replies, elapsed_us = started.elapsed().as_micros() as u64, "handled");
                result
            }
            .instrument(span),
        )
    }
}
