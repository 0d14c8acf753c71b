//! The local monitoring endpoint: `/metrics` (Prometheus text), `/healthz` (the process answers) and
//! `/readyz` (adapters started and not shutting down). Bind it to loopback or a private network only.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio_util::sync::CancellationToken;

/// Whether the bot is ready to serve (set once adapters run; cleared at shutdown).
#[derive(Clone, Debug, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// Marks ready or not.
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::SeqCst);
    }

    /// True when ready.
    pub fn get(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

#[derive(Clone)]
struct AppState {
    metrics: PrometheusHandle,
    ready: Readiness,
}

/// The endpoint's routes.
fn routes(metrics: PrometheusHandle, ready: Readiness) -> Router {
    Router::new()
        .route("/metrics", get(|State(s): State<AppState>| async move { s.metrics.render() }))
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(|State(s): State<AppState>| async move {
                if s.ready.get() { (StatusCode::OK, "ready") } else { (StatusCode::SERVICE_UNAVAILABLE, "not ready") }
            }),
        )
        .with_state(AppState { metrics, ready })
}

/// Binds `addr` (so a taken port fails at start with a clear error) and returns the bound address and a
/// future serving until `shutdown`. (The gauges it shows are refreshed by [`crate::watch`].)
pub async fn serve(
    addr: SocketAddr,
    metrics: PrometheusHandle,
    ready: Readiness,
    shutdown: CancellationToken,
) -> Result<(SocketAddr, impl Future<Output = ()>), String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr} for [monitoring] (is the port taken?): {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let app = routes(metrics, ready);
    let fut = async move {
        let server = axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned());
        if let Err(error) = server.await {
            tracing::error!(%error, "the monitoring endpoint stopped");
        }
    };
    Ok((local, fut))
}

/// Bytes used by the files under `path`.
pub fn disk_usage(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path).map_or(0, |entries| {
        entries
            .filter_map(Result::ok)
            .map(|e| match e.metadata() {
                Ok(m) if m.is_dir() => disk_usage(&e.path()),
                Ok(m) => m.len(),
                Err(_) => 0,
            })
            .sum()
    })
}
