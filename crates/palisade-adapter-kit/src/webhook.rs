//! The webhook listener every adapter with an HTTP endpoint uses (Telegram webhooks, Slack's Events API,
//! Discord's interactions endpoint).
//!
//! An unauthenticated request costs bounded memory, bounded time and no disk write:
//! - at most `max_connections` connections are served at once; more wait in the kernel's backlog;
//! - request headers must arrive within `header_timeout` and the body within `body_timeout`;
//! - the endpoint's header check runs before any of the body is read (a missing signature is refused at
//!   once), a declared `Content-Length` over `max_body` is refused before reading, and reading stops at
//!   `max_body`;
//! - a refused request is answered 401 and reported to [`EventSink::rejected`], which only counts it (the
//!   runtime writes one audit summary and one log line per window, not one per request).
//!
//! TLS is not terminated here: put a reverse proxy with a certificate in front and listen on loopback.

/// The HTTP types an endpoint works with, so adapters need no web framework of their own.
pub mod http {
    pub use axum::Json;
    pub use axum::body::Bytes;
    pub use axum::http::{HeaderMap, StatusCode, header};
    pub use axum::response::{IntoResponse, Response};
}

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use palisade_core::{AdapterError, EventSink, Platform};
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;

/// How a listener is bounded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest body read, in bytes; a larger declared length is refused before reading.
    pub max_body: usize,
    /// Connections served at once.
    pub max_connections: usize,
    /// Time allowed for the request line and headers.
    pub header_timeout: Duration,
    /// Time allowed for the body.
    pub body_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body: 256 * 1024,
            max_connections: 256,
            header_timeout: Duration::from_secs(5),
            body_timeout: Duration::from_secs(10),
        }
    }
}

/// What an endpoint does with a request. Checks return a fixed reason (reported, never the content).
#[async_trait]
pub trait Endpoint: Send + Sync + 'static {
    /// Checks the headers before any of the body is read (the signature headers are present, the timestamp
    /// is fresh, a shared secret matches).
    fn check_headers(&self, headers: &HeaderMap) -> Result<(), &'static str>;

    /// Authenticates the request once its body is read (a signature over the body); `Ok` by default.
    fn authenticate(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), &'static str> {
        let _ = (headers, body);
        Ok(())
    }

    /// Handles an authenticated request: parse, deduplicate, hand to the dispatcher (503 when saturated).
    async fn handle(&self, headers: HeaderMap, body: Bytes) -> Response;
}

/// Where and how to listen.
#[derive(Clone, Debug)]
pub struct Listen {
    /// The platform, for reports and messages.
    pub platform: Platform,
    /// The address to bind.
    pub addr: SocketAddr,
    /// The one path served (POST only).
    pub path: String,
    /// The bounds.
    pub limits: Limits,
}

struct Shared<E> {
    endpoint: Arc<E>,
    sink: EventSink,
    platform: Platform,
    limits: Limits,
}

/// Serves `endpoint` until `shutdown`, then lets requests in progress finish (up to a few seconds). Publishes
/// the bound address on `listening` once ready (tests bind port 0).
pub async fn serve<E: Endpoint>(
    listen: Listen,
    endpoint: Arc<E>,
    sink: EventSink,
    shutdown: CancellationToken,
    listening: watch::Sender<Option<SocketAddr>>,
) -> Result<(), AdapterError> {
    let Listen { platform, addr, path, limits } = listen;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| AdapterError::Start {
        platform,
        reason: format!("cannot listen on {addr}: {e}; is another process using that address?"),
    })?;
    let bound = listener
        .local_addr()
        .map_err(|e| AdapterError::Failed { platform, reason: format!("the listener has no address: {e}") })?;
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let header_timeout = limits.header_timeout;
    let shared = Arc::new(Shared { endpoint, sink, platform, limits });
    let app = axum::Router::new().route(&path, axum::routing::post(receive::<E>)).with_state(shared);
    tracing::info!(%platform, addr = %bound, path, "webhook listening");
    let _ = listening.send(Some(bound));
    let graceful = GracefulShutdown::new();
    loop {
        let permit = tokio::select! {
            () = shutdown.cancelled() => break,
            permit = permits.clone().acquire_owned() => match permit { Ok(p) => p, Err(_) => break },
        };
        let stream = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(%platform, error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await.is_err() {
        tracing::debug!(%platform, "webhook connections still open at shutdown were closed");
    }
    Ok(())
}

async fn receive<E: Endpoint>(State(shared): State<Arc<Shared<E>>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    if let Err(reason) = shared.endpoint.check_headers(&parts.headers) {
        return shared.refuse(reason);
    }
    let declared = parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > shared.limits.max_body as u64) {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    }
    let Some(body) = read(body, &shared.limits).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    if let Err(reason) = shared.endpoint.authenticate(&parts.headers, &body) {
        return shared.refuse(reason);
    }
    shared.endpoint.handle(parts.headers, body).await
}

/// The body, or `None` when it is too large or too slow.
async fn read(body: Body, limits: &Limits) -> Option<Bytes> {
    tokio::time::timeout(limits.body_timeout, axum::body::to_bytes(body, limits.max_body)).await.ok()?.ok()
}

impl<E> Shared<E> {
    fn refuse(&self, reason: &'static str) -> Response {
        self.sink.rejected(self.platform, reason);
        StatusCode::UNAUTHORIZED.into_response()
    }
}
