//! The webhook listener: Telegram posts each update to `listen` + `path`.
//!
//! The adapter kit's listener bounds connections, header and body time and size. A request is authenticated
//! first: the `X-Telegram-Bot-Api-Secret-Token` header must equal the configured secret (compared in
//! constant time), otherwise the answer is 401 and the body is not even read. Then the update is parsed,
//! dropped if its `update_id` was seen recently, and handed to the dispatcher without waiting: 200 at once,
//! or 503 when the dispatcher is saturated so that Telegram delivers it again later.
//!
//! TLS is not terminated here: put a reverse proxy (nginx, Caddy) with a certificate in front and forward to
//! `listen`, which should then be a loopback address.

use std::net::SocketAddr;
use std::sync::Arc;

use palisade_adapter_kit::RecentIds;
use palisade_adapter_kit::webhook::http::{Bytes, HeaderMap, IntoResponse, Response, StatusCode};
use palisade_adapter_kit::webhook::{self, Endpoint, Limits, Listen};
use palisade_core::{AdapterError, EventSink, Platform, Secret, SinkError};
use teloxide::payloads::SetWebhookSetters;
use teloxide::prelude::Requester;
use teloxide::requests::Request as _;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::api::Api;
use crate::polling::ALLOWED;
use crate::receive::Receiver;
use crate::settings::WebhookSettings;

/// The header Telegram sends the secret in.
pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// Update ids remembered, so a delivery Telegram repeats is handled once (it retries within minutes, not
/// tens of thousands of updates later).
const RECENT_UPDATES: usize = 50_000;

/// The listener's shared state.
struct Hook {
    secret: Secret,
    receiver: Receiver,
    recent: RecentIds,
}

/// Listens until `shutdown`; publishes the bound address on `listening` once ready.
pub async fn run(
    api: Arc<Api>,
    sink: EventSink,
    shutdown: CancellationToken,
    settings: &WebhookSettings,
    listening: watch::Sender<Option<SocketAddr>>,
) -> Result<(), AdapterError> {
    if settings.set_webhook_on_start {
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            set = set_webhook(&api, settings) => set?,
        }
    }
    let hook = Hook {
        secret: settings.secret_token.clone(),
        receiver: Receiver::new(api, sink.clone()),
        recent: RecentIds::new(RECENT_UPDATES, None),
    };
    // Telegram's updates are small; a megabyte leaves room for long captions and entities.
    let limits = Limits { max_body: 1 << 20, ..Limits::default() };
    let listen = Listen { platform: Platform::TELEGRAM, addr: settings.listen, path: settings.path.clone(), limits };
    webhook::serve(listen, Arc::new(hook), sink, shutdown, listening).await
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

/// How long a delivery may wait for the dispatcher to accept it before Telegram is asked to retry.
const ACCEPT_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

#[async_trait::async_trait]
impl Endpoint for Hook {
    fn check_headers(&self, headers: &HeaderMap) -> Result<(), &'static str> {
        let given = headers.get(SECRET_HEADER).map(|v| v.as_bytes()).unwrap_or_default();
        if given.is_empty() {
            Err("missing secret token")
        } else if palisade_crypto::ct_eq(given, self.secret.expose().as_bytes()) {
            Ok(())
        } else {
            Err("wrong secret token")
        }
    }

    /// One delivery from Telegram.
    async fn handle(&self, _headers: HeaderMap, body: Bytes) -> Response {
        let Ok(update) = serde_json::from_slice::<crate::quiet::Json<'_>>(&body).and_then(|v| crate::quiet::update(&v))
        else {
            tracing::warn!("webhook body is not a Telegram update; ignored");
            return StatusCode::BAD_REQUEST.into_response();
        };
        let id = update.id.0.to_string();
        if !self.recent.claim(&id) {
            tracing::debug!(update_id = %id, "repeated Telegram update dropped");
            return StatusCode::OK.into_response();
        }
        match self.receiver.take(update, Some(ACCEPT_WITHIN)).await {
            Ok(()) => StatusCode::OK.into_response(),
            Err(SinkError::Full | SinkError::Closed | SinkError::Journal(_)) => {
                // Not taken: Telegram delivers it again, and that copy must pass.
                self.recent.release(&id);
                StatusCode::SERVICE_UNAVAILABLE.into_response()
            }
        }
    }
}
