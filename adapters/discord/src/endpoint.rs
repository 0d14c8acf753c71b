//! The interactions endpoint: Discord posts each interaction to `listen` + `path`.
//!
//! Order of checks, each failure final: the body is read (at most 1 MiB); the Ed25519 signature over
//! timestamp ‖ body must verify with the application's public key and the signed timestamp must be within
//! the freshness window (else 401, reported to [`palisade_core::EventSink::rejected`]); only then is the JSON parsed, and
//! an interaction id seen before is refused (401) as a replay. PING is answered PONG; everything else gets
//! its first answer from [`Intake`].
//!
//! TLS is not terminated here: put a reverse proxy with a certificate in front and forward to `listen`,
//! which should be a loopback address.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use palisade_core::{AdapterError, Platform};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::intake::Intake;
use crate::replay::Replays;
use crate::verify::{Authenticator, Rejection, SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// Largest body read (interactions are a few kilobytes).
const MAX_BODY: usize = 1 << 20;

/// The endpoint's shared state.
struct Endpoint {
    auth: Authenticator,
    replays: Mutex<Replays>,
    intake: Intake,
}

/// Listens on `listen` at `path` until `shutdown`; publishes the bound address on `listening` once ready.
pub async fn run(
    listen: SocketAddr,
    path: &str,
    auth: Authenticator,
    intake: Intake,
    shutdown: CancellationToken,
    listening: watch::Sender<Option<SocketAddr>>,
) -> Result<(), AdapterError> {
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| AdapterError::Start {
        platform: Platform::DISCORD,
        reason: format!("cannot listen on {listen}: {e}; is another process using that address?"),
    })?;
    let failed = |reason: String| AdapterError::Failed { platform: Platform::DISCORD, reason };
    let addr = listener.local_addr().map_err(|e| failed(format!("the listener has no address: {e}")))?;
    let replays = Mutex::new(Replays::new(auth.freshness() * 2));
    let endpoint = Arc::new(Endpoint { auth, replays, intake });
    let app = axum::Router::new().route(path, post(receive)).with_state(endpoint);
    tracing::info!(%addr, path, "Discord interactions endpoint listening");
    let _ = listening.send(Some(addr));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .map_err(|e| failed(format!("the interactions endpoint stopped: {e}")))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Endpoint {
    fn refuse(&self, why: Rejection) -> Response {
        self.intake.sink.rejected(Platform::DISCORD, &why.to_string());
        (StatusCode::UNAUTHORIZED, why.to_string()).into_response()
    }
}

/// One delivery from Discord.
async fn receive(State(ep): State<Arc<Endpoint>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let (signature, timestamp) = (header(&parts.headers, SIGNATURE_HEADER), header(&parts.headers, TIMESTAMP_HEADER));
    if let Err(why) = ep.auth.check(signature, timestamp, &body, now_secs()) {
        return ep.refuse(why);
    }
    let interaction = match crate::interaction::parse(&body) {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(error = %e, "a signed request is not an interaction; ignored");
            return StatusCode::BAD_REQUEST.into_response();
        }
    };
    // A std Mutex around a map operation; never held across an await.
    let first = ep.replays.lock().unwrap_or_else(PoisonError::into_inner).first_time(interaction.id, Instant::now());
    if !first {
        return ep.refuse(Rejection::Replayed);
    }
    match ep.intake.take(interaction).await {
        Ok(answer) => Json(answer).into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}
