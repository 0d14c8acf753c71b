//! The Events API listener: Slack posts events (JSON), slash commands and interactivity payloads (forms) to
//! `listen` + `path`.
//!
//! The adapter kit's listener bounds connections, header and body time and size. Every request is
//! authenticated before its body is parsed: the timestamp header must be within five minutes of now (checked
//! before the body is read) and the v0 signature over timestamp and raw body must match (see
//! [`crate::signature`]); otherwise the answer is 401, the sink is told of the rejection, and the body goes no
//! further. Then `url_verification` is answered with its challenge; anything else is handed to
//! the dispatcher without waiting — 200 at once (Slack wants an answer within three seconds; replies follow
//! through the Web API), or 503 when the dispatcher is saturated so that Slack retries an event. A retried
//! event (`X-Slack-Retry-Num`) whose first delivery was taken is answered 200 and not handled again.
//!
//! TLS is terminated in front of the listener (a reverse proxy forwarding to `listen`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use palisade_adapter_kit::webhook::http::{Bytes, HeaderMap, IntoResponse, Json, Response, StatusCode, header};
use palisade_adapter_kit::webhook::{self, Endpoint, Limits, Listen};
use palisade_core::{AdapterError, Platform, Secret, SinkError};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::payload::{Payload, Push};
use crate::receive::Receiver;
use crate::signature::{self, Rejection, SIGNATURE_HEADER, TIMESTAMP_HEADER};

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
    let sink = receiver.sink().clone();
    // Slack's payloads are a few kilobytes; interactivity payloads with large views stay well under this.
    let limits = Limits { max_body: 512 * 1024, ..Limits::default() };
    let listen = Listen { platform: Platform::SLACK, addr: listen, path: path.to_string(), limits };
    webhook::serve(listen, Arc::new(Hook { secret, receiver }), sink, shutdown, listening).await
}

fn text_header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn reason(why: Rejection) -> &'static str {
    match why {
        Rejection::Missing => "missing X-Slack-Signature or X-Slack-Request-Timestamp",
        Rejection::Malformed => "malformed X-Slack-Request-Timestamp",
        Rejection::Stale => "stale X-Slack-Request-Timestamp",
        Rejection::Forged => "bad X-Slack-Signature",
    }
}

#[async_trait::async_trait]
impl Endpoint for Hook {
    /// The timestamp must be fresh and a signature present before the body is read.
    fn check_headers(&self, headers: &HeaderMap) -> Result<(), &'static str> {
        let (Some(timestamp), Some(_)) =
            (text_header(headers, TIMESTAMP_HEADER), text_header(headers, SIGNATURE_HEADER))
        else {
            return Err(reason(Rejection::Missing));
        };
        signature::check_timestamp(timestamp, signature::now_secs()).map_err(reason)
    }

    fn authenticate(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), &'static str> {
        let timestamp = text_header(headers, TIMESTAMP_HEADER).unwrap_or_default();
        let given = text_header(headers, SIGNATURE_HEADER).unwrap_or_default();
        signature::check_signature(self.secret.expose().as_bytes(), timestamp, given, body).map_err(reason)
    }

    /// One authenticated request from Slack.
    async fn handle(&self, headers: HeaderMap, body: Bytes) -> Response {
        if let Some(n) = text_header(&headers, RETRY_HEADER) {
            let reason = text_header(&headers, "x-slack-retry-reason").unwrap_or("unknown");
            tracing::debug!(retry = n, reason, "Slack retried a delivery");
        }
        let content_type = text_header(&headers, header::CONTENT_TYPE.as_str());
        if content_type.is_some_and(|t| t.starts_with("application/json")) {
            self.json(&body).await
        } else {
            self.form(&body).await
        }
    }
}

/// How long a request may wait for the dispatcher to accept its event: Slack wants an answer within 3 s.
const ACCEPT_WITHIN: std::time::Duration = std::time::Duration::from_secs(2);

impl Hook {
    async fn take(&self, payload: Payload) -> Response {
        match self.receiver.take(payload, ACCEPT_WITHIN).await {
            Ok(()) => StatusCode::OK.into_response(),
            Err(SinkError::Full | SinkError::Closed | SinkError::Journal(_)) => {
                StatusCode::SERVICE_UNAVAILABLE.into_response()
            }
        }
    }
}

impl Hook {
    async fn json(&self, body: &[u8]) -> Response {
        match serde_json::from_slice::<Push>(body) {
            Ok(Push::UrlVerification { challenge }) => {
                Json(serde_json::json!({ "challenge": challenge })).into_response()
            }
            Ok(Push::EventCallback(event)) => self.take(Payload::Event(*event)).await,
            Ok(Push::Other) => StatusCode::OK.into_response(),
            Err(_) => {
                tracing::warn!("a signed Events API body that is not an event; ignored");
                StatusCode::BAD_REQUEST.into_response()
            }
        }
    }

    async fn form(&self, body: &[u8]) -> Response {
        let Ok(fields) = serde_urlencoded::from_bytes::<HashMap<String, String>>(body) else {
            return StatusCode::BAD_REQUEST.into_response();
        };
        let parsed = if fields.contains_key("payload") {
            Payload::interaction_from_form(body)
        } else {
            Payload::command_from_form(body)
        };
        match parsed {
            Ok(payload) => self.take(payload).await,
            Err(reason) => {
                tracing::warn!(reason, "a signed form that is neither a slash command nor an interaction; ignored");
                StatusCode::BAD_REQUEST.into_response()
            }
        }
    }
}
