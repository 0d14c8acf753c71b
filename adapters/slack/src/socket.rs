//! Socket Mode: slack-morphism's WebSocket clients (connection, reconnection, pings) with this crate's own
//! listener reading the raw envelopes, so payloads are parsed here like the Events API's (keeping
//! `enterprise_id`) and nothing is logged on the way.
//!
//! Every envelope with an id is acknowledged (`{"envelope_id": …}`) once its event is in the dispatcher's
//! intake — or right away when it is a repeat or has nothing to handle. If the intake stays full for
//! [`ACK_BUDGET`], the envelope is left unacknowledged so Slack sends it again. The app token is checked
//! with `apps.connections.open` before the clients start, because they would otherwise retry a bad token
//! forever.

use std::sync::{Arc, Weak};
use std::time::Duration;

use palisade_core::{AdapterError, Connection, Platform, Secret, SinkError};
use slack_morphism::api::SlackApiAppsConnectionOpenRequest;
use slack_morphism::clients_manager::{SlackSocketModeClientsManager, SlackSocketModeClientsManagerFactory};
use slack_morphism::errors::SlackClientError;
use slack_morphism::listener::SlackClientEventsListenerEnvironment;
use slack_morphism::{
    SlackApiToken, SlackApiTokenType, SlackApiTokenValue, SlackClientSocketModeConfig, SlackSocketModeClientListener,
    SlackSocketModeWssClientId,
};
use tokio_util::sync::CancellationToken;

use crate::api::{Api, describe};
use crate::payload::Envelope;
use crate::receive::Receiver;
use palisade_adapter_kit::RecentIds;

/// How long an envelope may wait for room in the dispatcher's intake; Slack expects the acknowledgement
/// within three seconds.
pub const ACK_BUDGET: Duration = Duration::from_secs(2);

type Manager = dyn SlackSocketModeClientsManager + Send + Sync;

/// Seconds between pings on each connection; a connection with no pong for `PING_EVERY × PINGS_MISSED`
/// seconds is dropped and opened again (slack-morphism's defaults, 15 × 5, took about 85 s to notice a
/// half-open connection).
const PING_EVERY: u64 = 4;
/// Missed pongs that end a connection.
const PINGS_MISSED: u64 = 3;

/// Seconds to wait before opening a failed connection again: 1 to 3, chosen per process so that replicas
/// cut off together do not all come back at the same moment. slack-morphism waits the same time before
/// each attempt (its default is a fixed 30 s) and offers no per-attempt jitter.
fn reconnect_after() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    1 + u64::from(nanos % 3)
}

/// Receives over Socket Mode until `shutdown` (or until the dispatcher closes).
pub async fn run(
    api: Arc<Api>,
    receiver: Receiver,
    app_token: &Secret,
    connections: u32,
    shutdown: CancellationToken,
) -> Result<(), AdapterError> {
    let token = SlackApiToken::new(SlackApiTokenValue::new(app_token.expose().to_string()))
        .with_token_type(SlackApiTokenType::App);
    tokio::select! {
        () = shutdown.cancelled() => return Ok(()),
        checked = check_app_token(&api, &token) => checked?,
    }
    let client = api.client();
    let environment = Arc::new(SlackClientEventsListenerEnvironment::new(client.clone()));
    let manager: Arc<Manager> = client.http_api.connector.new_clients_manager(environment);
    let stop = shutdown.child_token();
    let listener = Arc::new(Listener {
        receiver,
        manager: Arc::downgrade(&manager),
        envelopes: RecentIds::default(),
        stop: stop.clone(),
    });
    let config = SlackClientSocketModeConfig::new()
        .with_max_connections_count(connections)
        .with_reconnect_timeout_in_seconds(reconnect_after())
        .with_ping_interval_in_seconds(PING_EVERY)
        .with_ping_failure_threshold_times(PINGS_MISSED);
    manager.register_new_token(&config, token, listener).await.map_err(|e| AdapterError::Start {
        platform: Platform::SLACK,
        reason: format!("cannot start Socket Mode: {}", describe(&e)),
    })?;
    manager.start().await;
    tracing::info!(connections, "Slack Socket Mode started");
    stop.cancelled().await;
    manager.shutdown().await;
    Ok(())
}

/// Proves the app token works (and has `connections:write`) before the clients start.
async fn check_app_token(api: &Api, token: &SlackApiToken) -> Result<(), AdapterError> {
    let client = api.client();
    let session = client.open_session(token);
    let req = SlackApiAppsConnectionOpenRequest::new();
    let opened = api.call("apps.connections.open", || async { session.apps_connections_open(&req).await });
    opened.await.map(drop).map_err(|e| {
        let reason = match &e {
            SlackClientError::ApiError(a) if ["invalid_auth", "not_authed", "not_allowed_token_type"].contains(&a.code.as_str()) => {
                format!("Slack rejected the app token ({}); check [adapters.slack] app_token (xapp-… with connections:write)", a.code)
            }
            _ => format!("apps.connections.open failed: {}; check the network, app_token and that Socket Mode is enabled for the app", describe(&e)),
        };
        AdapterError::Start { platform: Platform::SLACK, reason }
    })
}

/// The listener slack-morphism's clients call with every frame.
struct Listener {
    receiver: Receiver,
    manager: Weak<Manager>,
    envelopes: RecentIds,
    stop: CancellationToken,
}

impl Listener {
    /// Handles one envelope; the acknowledgement to send, if any.
    async fn envelope(&self, envelope: Envelope) -> Option<String> {
        let id = envelope.envelope_id.clone()?;
        let ack = Some(serde_json::json!({ "envelope_id": id }).to_string());
        if !self.envelopes.claim(&id) {
            return ack;
        }
        if envelope.retry_attempt.is_some_and(|n| n > 0) {
            tracing::debug!(attempt = envelope.retry_attempt, "Slack sent an envelope again");
        }
        let kind = envelope.kind.clone();
        let payload = match envelope.into_payload() {
            Ok(Some(payload)) => payload,
            Ok(None) => return ack,
            Err(reason) => {
                tracing::warn!(kind, reason, "unreadable Socket Mode payload acknowledged and dropped");
                return ack;
            }
        };
        match self.receiver.take(payload, ACK_BUDGET).await {
            Ok(()) => ack,
            Err(error @ (SinkError::Full | SinkError::Journal(_))) => {
                self.envelopes.release(&id);
                tracing::warn!(%error, "leaving a Slack envelope for redelivery");
                None
            }
            Err(SinkError::Closed) => {
                self.stop.cancel();
                None
            }
        }
    }

    async fn restart(&self, client_id: &SlackSocketModeWssClientId) {
        if let Some(manager) = self.manager.upgrade()
            && !self.stop.is_cancelled()
        {
            manager.restart_client(client_id).await;
        }
    }
}

#[palisade_core::async_trait]
impl SlackSocketModeClientListener for Listener {
    async fn on_message(&self, client_id: &SlackSocketModeWssClientId, message_body: String) -> Option<String> {
        let Ok(envelope) = serde_json::from_str::<Envelope>(&message_body) else {
            tracing::warn!("unreadable Socket Mode message ignored");
            return None;
        };
        match envelope.kind.as_str() {
            "hello" => {
                tracing::debug!("Slack Socket Mode connection ready");
                self.receiver.sink().connection(Platform::SLACK, Connection::Connected);
                None
            }
            "disconnect" => {
                tracing::debug!("Slack asked to reconnect");
                let state = Connection::Reconnecting("Slack asked to reconnect".into());
                self.receiver.sink().connection(Platform::SLACK, state);
                self.restart(client_id).await;
                None
            }
            _ => self.envelope(envelope).await,
        }
    }

    async fn on_error(&self, error: Box<dyn std::error::Error + Send + Sync>) {
        let error = match error.downcast_ref::<SlackClientError>() {
            Some(e) => describe(e),
            None => "connection error".into(),
        };
        tracing::warn!(%error, "Slack Socket Mode error");
    }

    async fn on_disconnect(&self, client_id: &SlackSocketModeWssClientId) {
        tracing::debug!("Slack Socket Mode connection closed; reconnecting");
        self.receiver.sink().connection(Platform::SLACK, Connection::Reconnecting("connection closed".into()));
        self.restart(client_id).await;
    }
}
