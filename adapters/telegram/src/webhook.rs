//! The webhook listener: Telegram posts each update to `listen` + `path`.
//!
//! A request is authenticated first: the `X-Telegram-Bot-Api-Secret-Token` header must equal the configured
//! secret (compared in constant time), otherwise the answer is 401 and the body is not even read. Then the
//! update is parsed, dropped if its `update_id` was seen recently, and handed to the dispatcher without
//! waiting: 200 at once, or 503 when the dispatcher is saturated so that Telegram delivers it again later.
//!
//! TLS is not terminated here: put a reverse proxy (nginx, Caddy) with a certificate in front and forward to
//! `listen`, which should then be a loopback address.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::routing::post;
use palisade_core::{AdapterError, EventSink, Platform, Secret, SinkError};
use teloxide::payloads::SetWebhookSetters;
use teloxide::prelude::Requester;
use teloxide::requests::Request as _;
use teloxide::types::Update;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::api::Api;
use crate::dedupe::RecentIds;
use crate::polling::ALLOWED;
use crate::receive::Receiver;
use crate::settings::WebhookSettings;

/// The header Telegram sends the secret in.
pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// Largest update body read (Telegram's updates are far smaller).
const MAX_BODY: usize = 1 << 20;

/// The listener's shared state.
struct Hook {
    secret: Secret,
    receiver: Receiver,
    recent: Mutex<RecentIds>,
    /// For reporting refused requests (metrics, audit, alerts).
    sink: EventSink,
}

/// Listens until `shutdown`; publishes the bound address on `listening` once ready.
pub async fn run(
    api: Arc<Api>,
    sink: EventSink,
    shutdown: CancellationToken,
    settings: &WebhookSettings,
    listening: watch::Sender<Option<SocketAddr>>,
) -> Result<(), AdapterError> {
    let listener = tokio::net::TcpListener::bind(settings.listen).await.map_err(|e| AdapterError::Start {
        platform: Platform::TELEGRAM,
        reason: format!("cannot listen on {}: {e}; is another process using that address?", settings.listen),
    })?;
    let addr = listener.local_addr().map_err(|e| failed(format!("the listener has no address: {e}")))?;
    if settings.set_webhook_on_start {
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            set = set_webhook(&api, settings) => set?,
        }
    }
    let hook = Hook {
        secret: settings.secret_token.clone(),
        receiver: Receiver::new(api, sink.clone()),
        recent: Mutex::new(RecentIds::default()),
        sink,
    };
    let app = axum::Router::new().route(&settings.path, post(receive)).with_state(Arc::new(hook));
    tracing::info!(%addr, path = settings.path, "Telegram webhook listening");
    let _ = listening.send(Some(addr));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .map_err(|e| failed(format!("the webhook listener stopped: {e}")))
}

fn failed(reason: String) -> AdapterError {
    AdapterError::Failed { platform: Platform::TELEGRAM, reason }
}

/// Registers `public_url` and the secret with Telegram.
async fn set_webhook(api: &Api, settings: &WebhookSettings) -> Result<(), AdapterError> {
    let start = |reason: String| AdapterError::Start { platform: Platform::TELEGRAM, reason };
    let public = settings.public_url.as_deref().unwrap_or_default();
    let url: url::Url =
        public.parse().map_err(|e| start(format!("webhook.public_url `{public}` is not a URL: {e}")))?;
    let bot = api.bot();
    api.call("setWebhook", || {
        bot.set_webhook(url.clone())
            .secret_token(settings.secret_token.expose().to_string())
            .allowed_updates(ALLOWED)
            .send()
    })
    .await
    .map_err(|e| {
        start(format!(
            "setWebhook failed: {}; check webhook.public_url (https, port 443, 80, 88 or 8443)",
            api.describe(&e)
        ))
    })?;
    tracing::info!("Telegram webhook registered");
    Ok(())
}

/// One delivery from Telegram.
async fn receive(State(hook): State<Arc<Hook>>, request: Request) -> StatusCode {
    let given = request.headers().get(SECRET_HEADER).map(|v| v.as_bytes()).unwrap_or_default();
    if !palisade_crypto::ct_eq(given, hook.secret.expose().as_bytes()) {
        let reason = if given.is_empty() { "missing secret token" } else { "wrong secret token" };
        hook.sink.rejected(Platform::TELEGRAM, reason);
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(body) = axum::body::to_bytes(request.into_body(), MAX_BODY).await else {
        return StatusCode::PAYLOAD_TOO_LARGE;
    };
    let Ok(update) = serde_json::from_slice::<Update>(&body) else {
        tracing::warn!("webhook body is not a Telegram update; ignored");
        return StatusCode::BAD_REQUEST;
    };
    let id = update.id.0;
    // A std Mutex held across the (non-blocking) submission, so a repeated delivery racing the first cannot
    // pass the check twice.
    let mut recent = hook.recent.lock().unwrap_or_else(PoisonError::into_inner);
    if recent.contains(id) {
        tracing::debug!(update_id = id, "repeated Telegram update dropped");
        return StatusCode::OK;
    }
    match hook.receiver.try_take(update) {
        Ok(()) => {
            recent.insert(id);
            StatusCode::OK
        }
        Err(SinkError::Full) | Err(SinkError::Closed) => StatusCode::SERVICE_UNAVAILABLE,
    }
}
