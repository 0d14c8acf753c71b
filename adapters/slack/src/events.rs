//! The Events API listener: Slack posts events (JSON), slash commands and interactivity payloads (forms) to
//! `listen` + `path`.
//!
//! Every request is authenticated before its body is parsed: the timestamp header must be within five
//! minutes of now (checked before the body is read) and the v0 signature over timestamp and raw body must
//! match (see [`crate::signature`]); otherwise the answer is 401, the sink is told of the rejection, and the
//! body goes no further. Then `url_verification` is answered with its challenge; anything else is handed to
//! the dispatcher without waiting — 200 at once (Slack wants an answer within three seconds; replies follow
//! through the Web API), or 503 when the dispatcher is saturated so that Slack retries an event. A retried
//! event (`X-Slack-Retry-Num`) whose first delivery was taken is answered 200 and not handled again.
//!
//! TLS is terminated in front of the listener (a reverse proxy forwarding to `listen`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use palisade_core::{AdapterError, Platform, Secret, SinkError};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::payload::{Payload, Push};
use crate::receive::Receiver;
use crate::signature::{self, Rejection, SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// Largest body read; Slack's payloads are far smaller.
const MAX_BODY: usize = 1 << 20;
/// The header Slack sets on a retried event.
pub const RETRY_HEADER: &str = "x-slack-retry-num";

/// The listener's shared state.
struct Hook {
    secret: Secret,
    receiver: Receiver,
}

/// Listens on `listen` + `path` until `shutdown`; publishes the bound address on `listening` once ready.
pub async fn run(
    receiver: Receiver,
    secret: Secret,
    listen: SocketAddr,
    path: &str,
    listening: watch::Sender<Option<SocketAddr>>,
    shutdown: CancellationToken,
) -> Result<(), AdapterError> {
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| AdapterError::Start {
        platform: Platform::SLACK,
        reason: format!("cannot listen on {listen}: {e}; is another process using that address?"),
    })?;
    let failed = |reason: String| AdapterError::Failed { platform: Platform::SLACK, reason };
    let addr = listener.local_addr().map_err(|e| failed(format!("the listener has no address: {e}")))?;
    let app = axum::Router::new().route(path, post(receive)).with_state(Arc::new(Hook { secret, receiver }));
    tracing::info!(%addr, path, "Slack Events API listening");
    let _ = listening.send(Some(addr));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .map_err(|e| failed(format!("the events listener stopped: {e}")))
}

fn text_header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

impl Hook {
    fn reject(&self, why: Rejection) -> Response {
        self.receiver.sink().rejected(Platform::SLACK, &why.to_string());
        StatusCode::UNAUTHORIZED.into_response()
    }

    fn take(&self, payload: Payload) -> Response {
        match self.receiver.try_take(payload) {
            Ok(()) => StatusCode::OK.into_response(),
            Err(SinkError::Full | SinkError::Closed) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        }
    }
}

/// One request from Slack.
async fn receive(State(hook): State<Arc<Hook>>, request: Request) -> Response {
    let headers = request.headers().clone();
    let (Some(timestamp), Some(given)) =
        (text_header(&headers, TIMESTAMP_HEADER), text_header(&headers, SIGNATURE_HEADER))
    else {
        return hook.reject(Rejection::Missing);
    };
    if let Err(why) = signature::check_timestamp(timestamp, signature::now_secs()) {
        return hook.reject(why);
    }
    let Ok(body) = axum::body::to_bytes(request.into_body(), MAX_BODY).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    if let Err(why) = signature::check_signature(hook.secret.expose().as_bytes(), timestamp, given, &body) {
        return hook.reject(why);
    }
    // Authenticated from here on.
    if let Some(n) = text_header(&headers, RETRY_HEADER) {
        let reason = text_header(&headers, "x-slack-retry-reason").unwrap_or("unknown");
        tracing::debug!(retry = n, reason, "Slack retried a delivery");
    }
    let json = text_header(&headers, header::CONTENT_TYPE.as_str()).is_some_and(|t| t.starts_with("application/json"));
    if json { hook.json(&body) } else { hook.form(&body) }
}

impl Hook {
    fn json(&self, body: &[u8]) -> Response {
        match serde_json::from_slice::<Push>(body) {
            Ok(Push::UrlVerification { challenge }) => {
                axum::Json(serde_json::json!({ "challenge": challenge })).into_response()
            }
            Ok(Push::EventCallback(event)) => self.take(Payload::Event(*event)),
            Ok(Push::Other) => StatusCode::OK.into_response(),
            Err(_) => {
                tracing::warn!("a signed Events API body that is not an event; ignored");
                StatusCode::BAD_REQUEST.into_response()
            }
        }
    }

    fn form(&self, body: &[u8]) -> Response {
        let Ok(fields) = serde_urlencoded::from_bytes::<HashMap<String, String>>(body) else {
            return StatusCode::BAD_REQUEST.into_response();
        };
        let parsed = if fields.contains_key("payload") {
            Payload::interaction_from_form(body)
        } else {
            Payload::command_from_form(body)
        };
        match parsed {
            Ok(payload) => self.take(payload),
            Err(reason) => {
                tracing::warn!(reason, "a signed form that is neither a slash command nor an interaction; ignored");
                StatusCode::BAD_REQUEST.into_response()
            }
        }
    }
}
