//! The Web API client: slack-morphism's hyper client with the bot token, retries, per-method pacing, the
//! bot's own identity, cached direct-message channels, and error texts that are safe to log.
//!
//! Nothing here logs a request: slack-morphism's errors carry Slack's response bodies (and its debug output
//! would carry whatever it is given), so errors are rendered by [`describe`] from their codes alone.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use palisade_core::SendError;
use slack_morphism::api::{SlackApiConversationsOpenRequest, SlackApiFilesInfoRequest};
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::SlackApiRateControlConfig;
use slack_morphism::{SlackApiToken, SlackApiTokenValue, SlackClient, SlackClientSession, SlackUserId};

use crate::connector::{self, Connector};
use crate::download::Downloader;
use crate::settings::SlackSettings;
use palisade_adapter_kit::Backoff;

/// The slack-morphism client type used throughout this crate.
pub type Client = SlackClient<Connector>;

/// Who the bot is, from `auth.test`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BotIdentity {
    /// The bot user's id (`U…`); messages from it are ignored.
    pub user_id: String,
    /// The workspace the token belongs to (`T…`).
    pub team_id: String,
}

/// The Web API with the bot token.
pub struct Api {
    client: Arc<Client>,
    bot: SlackApiToken,
    /// The bot token tagged with its workspace once `auth.test` named it: slack-morphism applies the
    /// per-method tiers per workspace, and only to tokens that carry one.
    bot_in_team: OnceLock<SlackApiToken>,
    backoff: Backoff,
    me: OnceLock<BotIdentity>,
    /// User id → their direct-message channel with the bot (a std Mutex: never held across an await).
    dms: Mutex<HashMap<String, String>>,
    /// Shared files' downloads.
    files: Downloader,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api").field("me", &self.me.get()).finish_non_exhaustive()
    }
}

impl Api {
    /// A client for `settings`; the error says what to fix.
    pub fn new(settings: &SlackSettings) -> Result<Self, String> {
        let secrets = [Some(&settings.bot_token), settings.app_token.as_ref(), settings.signing_secret.as_ref()];
        for secret in secrets.into_iter().flatten() {
            palisade_adapter_kit::redact::register_secret(secret.expose());
        }
        let mut connector = connector::build(settings.api_base())?;
        if settings.rate_tiers {
            connector = connector.with_rate_control(SlackApiRateControlConfig::new());
        }
        let bot = SlackApiToken::new(SlackApiTokenValue::new(settings.bot_token.expose().to_string()));
        Ok(Self {
            client: Arc::new(SlackClient::new(connector)),
            bot,
            bot_in_team: OnceLock::new(),
            backoff: Backoff::default().for_platform(palisade_core::Platform::SLACK),
            me: OnceLock::new(),
            dms: Mutex::new(HashMap::new()),
            files: Downloader::new(settings.api_base(), settings.bot_token.clone())?,
        })
    }

    /// The bytes of shared file `id` (`F…`), at most `max_bytes`: `files.info` names where it is kept.
    pub async fn fetch_file(&self, id: &str, max_bytes: u64) -> Result<Vec<u8>, SendError> {
        let req = SlackApiFilesInfoRequest::new(id.to_string().into());
        let info = self.call("files.info", || async { self.session().files_info(&req).await }).await;
        let file = info.map_err(|e| send_error(&e))?.file;
        let url = file.url_private_download.or(file.url_private).ok_or(SendError::Unsupported(
            "a file Slack gives no download address for (an external or deleted file)",
        ))?;
        self.files.get(&url, max_bytes).await
    }

    /// The underlying client (Socket Mode needs it to open connections with the app token).
    pub fn client(&self) -> Arc<Client> {
        self.client.clone()
    }

    /// A session carrying the bot token.
    pub fn session(&self) -> SlackClientSession<'_, Connector> {
        self.client.open_session(self.bot_in_team.get().unwrap_or(&self.bot))
    }

    /// Runs one Web API call with retries (see [`Backoff`]).
    pub async fn call<T, F, Fut>(&self, op: &'static str, call: F) -> Result<T, SlackClientError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SlackClientError>>,
    {
        self.backoff.run(op, crate::retry::classify, describe, call).await
    }

    /// Asks `auth.test` who the bot is; proves the token works.
    pub async fn introduce(&self) -> Result<BotIdentity, SlackClientError> {
        let me = self.call("auth.test", || async { self.session().auth_test().await }).await?;
        let _ = self.bot_in_team.set(self.bot.clone().with_team_id(me.team_id.clone()));
        let me = BotIdentity { user_id: me.user_id.to_string(), team_id: me.team_id.to_string() };
        Ok(self.me.get_or_init(|| me).clone())
    }

    /// The bot's identity, once [`Api::introduce`] succeeded.
    pub fn me(&self) -> Option<&BotIdentity> {
        self.me.get()
    }

    /// The direct-message channel between the bot and `user` (`U…`), if already known.
    pub fn known_dm(&self, user: &str) -> Option<String> {
        self.dms.lock().unwrap_or_else(PoisonError::into_inner).get(user).cloned()
    }

    /// Notes that `channel` is the direct-message channel between the bot and `user` (a message event in it
    /// said `channel_type: im`; only the bot's own DMs deliver those).
    pub fn remember_dm(&self, user: &str, channel: &str) {
        let mut dms = self.dms.lock().unwrap_or_else(PoisonError::into_inner);
        if dms.len() >= 100_000 && !dms.contains_key(user) {
            dms.clear();
        }
        dms.insert(user.to_string(), channel.to_string());
    }

    /// The direct-message channel between the bot and `user` (`U…`), opened with `conversations.open` once.
    pub async fn dm(&self, user: &str) -> Result<String, SendError> {
        if let Some(id) = self.dms.lock().unwrap_or_else(PoisonError::into_inner).get(user) {
            return Ok(id.clone());
        }
        let req = SlackApiConversationsOpenRequest::new().with_users(vec![SlackUserId::new(user.to_string())]);
        let opened = self
            .call("conversations.open", || async { self.session().conversations_open(&req).await })
            .await
            .map_err(|e| send_error(&e))?;
        let id = opened.channel.id.to_string();
        self.dms.lock().unwrap_or_else(PoisonError::into_inner).insert(user.to_string(), id.clone());
        Ok(id)
    }
}

/// A description of `error` that is safe to log and to return: Slack's error code, an HTTP status or the
/// kind of failure — never a response body, URL or token.
pub fn describe(error: &SlackClientError) -> String {
    match error {
        SlackClientError::ApiError(e) => format!("Slack answered `{}`", e.code),
        SlackClientError::HttpError(e) => format!("HTTP {}", e.status_code),
        SlackClientError::RateLimitError(e) => match e.retry_after {
            Some(d) => format!("rate limited (retry after {} s)", d.as_secs()),
            None => "rate limited".into(),
        },
        SlackClientError::HttpProtocolError(e) => match &e.cause {
            Some(cause) => format!("network error: {cause}"),
            None => "network error".into(),
        },
        SlackClientError::EndOfStream(_) => "the connection closed early".into(),
        SlackClientError::ProtocolError(e) => format!("unexpected response: {}", e.json_error),
        SlackClientError::SocketModeProtocolError(_) => "Socket Mode protocol error".into(),
        SlackClientError::SystemError(_) => "internal error in the Slack client".into(),
    }
}

/// The Slack error code of `error`, if Slack answered with one.
pub fn error_code(error: &SlackClientError) -> Option<&str> {
    match error {
        SlackClientError::ApiError(e) => Some(e.code.as_str()),
        _ => None,
    }
}

/// Maps a failed call to the core's delivery error.
pub fn send_error(error: &SlackClientError) -> SendError {
    match error {
        SlackClientError::ApiError(_) | SlackClientError::ProtocolError(_) => SendError::Rejected(describe(error)),
        SlackClientError::HttpError(e) if e.status_code.is_client_error() => SendError::Rejected(describe(error)),
        _ => SendError::Unreachable(describe(error)),
    }
}
