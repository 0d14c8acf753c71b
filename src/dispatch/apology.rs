//! The outermost safety net: any error becomes a short apology to the user and a log line for the operator.

use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tower::{Layer, Service};

use super::{DispatchError, Request, Response};

/// What the user reads when their request failed on our side (in English; `apology.internal` in the
/// catalogue of texts).
pub const APOLOGY: &str = "Sorry, something went wrong on our side while handling that. Nothing else was affected; please try again \
     in a moment (or send /cancel to start over).";

/// Layer adding [`Apologize`].
#[derive(Clone, Copy, Debug, Default)]
pub struct ApologizeLayer;

impl<S> Layer<S> for ApologizeLayer {
    type Service = Apologize<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Apologize { inner }
    }
}

/// Answers errors from the inner service with [`APOLOGY`] and logs them (without message content).
#[derive(Clone, Debug)]
pub struct Apologize<S> {
    inner: S,
}

impl<S> Service<Request> for Apologize<S>
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
        let apology = req.answer_with("apology.internal", &[]);
        let (texts, language) = (req.texts.clone(), req.event.language.clone());
        let (platform, kind) = (req.event.chat.platform, req.event.kind_label());
        let fut = self.inner.call(req);
        Box::pin(async move {
            match fut.await {
                Ok(replies) => Ok(replies),
                Err(DispatchError::StepUpRequired(approval)) => {
                    let mut refusal = apology;
                    refusal.body = crate::reply::ReplyBody::Text {
                        text: texts.fill(language.as_deref(), "apology.no_stepup", &[("scope", &approval.scope)]),
                        buttons: Vec::new(),
                    };
                    Ok(vec![refusal])
                }
                Err(error) => {
                    crate::metrics::error(match error {
                        DispatchError::Panicked(_) => "panic",
                        DispatchError::TimedOut(_) => "timeout",
                        DispatchError::Store(_) => "store",
                        _ => "plugin",
                    });
                    tracing::error!(%platform, kind, %error, "handling an event failed; the user got an apology");
                    Ok(vec![apology])
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_apology_is_the_catalogues_english_text() {
        assert_eq!(palisade_core::texts::english("apology.internal"), Some(super::APOLOGY));
        assert_eq!(palisade_core::texts::english("router.only_commands"), Some(super::super::ONLY_COMMANDS));
        assert_eq!(palisade_core::texts::english("dispatch.skipped"), Some(super::super::SKIPPED));
        assert_eq!(palisade_core::texts::english("dispatch.slow_down"), Some(super::super::SLOW_DOWN));
    }
}
