//! The interactions endpoint: Discord posts each interaction to `listen` + `path`.
//!
//! Order of checks, each failure final: both signature headers must be present and the timestamp fresh
//! before the body is read (at most 128 KiB, by the adapter kit's bounded listener); the Ed25519 signature
//! over timestamp ‖ body must verify with the application's public key (else 401, reported to
//! [`palisade_core::EventSink::rejected`]); only then is the JSON parsed, and an interaction id seen before is
//! refused (401) as a replay. PING is answered PONG; everything else gets
//! its first answer from [`Intake`].
//!
//! TLS is not terminated here: put a reverse proxy with a certificate in front and forward to `listen`,
//! which should be a loopback address.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use palisade_adapter_kit::RecentIds;
use palisade_adapter_kit::webhook::http::{Bytes, HeaderMap, IntoResponse, Json, Response, StatusCode};
use palisade_adapter_kit::webhook::{self, Endpoint, Limits, Listen};
use palisade_core::{AdapterError, Platform};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::intake::Intake;
use crate::verify::{Authenticator, Rejection, SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// Interaction ids remembered at most (a bound on memory if Discord, or an attacker with valid signatures,
/// floods).
const RECENT_IDS: usize = 100_000;

/// The endpoint's shared state.
struct Interactions {
    auth: Authenticator,
    replays: RecentIds,
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
    // Ids are kept for twice the freshness window: a copy with a timestamp skewed either way is still caught.
    let replays = RecentIds::new(RECENT_IDS, Some(auth.freshness() * 2));
    let sink = intake.sink.clone();
    // Interactions are a few kilobytes; resolved data of a message command stays far under this.
    let limits = Limits { max_body: 128 * 1024, body_timeout: Duration::from_secs(5), ..Limits::default() };
    let listen = Listen { platform: Platform::DISCORD, addr: listen, path: path.to_string(), limits };
    webhook::serve(listen, Arc::new(Interactions { auth, replays, intake }), sink, shutdown, listening).await
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[async_trait::async_trait]
impl Endpoint for Interactions {
    /// Both signature headers present and the timestamp fresh, before the body is read.
    fn check_headers(&self, headers: &HeaderMap) -> Result<(), &'static str> {
        let timestamp = header(headers, TIMESTAMP_HEADER);
        if header(headers, SIGNATURE_HEADER).is_none() || timestamp.is_none() {
            return Err(Rejection::Unsigned.label());
        }
        self.auth.check_fresh(timestamp, now_secs()).map_err(Rejection::label)
    }

    fn authenticate(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), &'static str> {
        let (signature, timestamp) = (header(headers, SIGNATURE_HEADER), header(headers, TIMESTAMP_HEADER));
        self.auth.check(signature, timestamp, body, now_secs()).map_err(Rejection::label)
    }

    /// One authenticated delivery from Discord.
    async fn handle(&self, _headers: HeaderMap, body: Bytes) -> Response {
        let interaction = match crate::interaction::parse(&body) {
            Ok(i) => i,
            Err(e) => {
                tracing::warn!(error = %e, "a signed request is not an interaction; ignored");
                return StatusCode::BAD_REQUEST.into_response();
            }
        };
        let id = interaction.id.to_string();
        if !self.replays.claim(&id) {
            self.intake.sink.rejected(Platform::DISCORD, Rejection::Replayed.label());
            return StatusCode::UNAUTHORIZED.into_response();
        }
        match self.intake.take(interaction).await {
            Ok(Some(answer)) => Json(answer).into_response(),
            // Seen before this process started: a replay the in-memory set could not know about.
            Ok(None) => {
                self.intake.sink.rejected(Platform::DISCORD, Rejection::Replayed.label());
                StatusCode::UNAUTHORIZED.into_response()
            }
            Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        }
    }
}
