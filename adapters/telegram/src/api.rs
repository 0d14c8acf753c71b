//! The Bot API client shared by the receiving side and the outbox: teloxide's `Bot` over one pooled
//! keep-alive HTTP client, retries (a 429's `retry_after` honoured), and safe error descriptions. Sends are
//! paced by the runtime's send scheduler (Telegram's per-chat, per-group and overall limits, from
//! `[adapters.telegram.limits]`), not here.

use std::future::Future;
use std::sync::OnceLock;

use palisade_core::config::Problem;
use teloxide::{Bot, RequestError};

use crate::buttons::ButtonIds;
use crate::settings::TelegramSettings;
use palisade_adapter_kit::Backoff;

/// Everything needed to talk to the Bot API.
pub struct Api {
    bot: Bot,
    username: OnceLock<String>,
    buttons: ButtonIds,
    backoff: Backoff,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api").field("username", &self.username.get()).finish_non_exhaustive()
    }
}

impl Api {
    /// A client for `settings` (not yet connected); `at` is the table's key path for problems.
    pub fn new(settings: &TelegramSettings, at: &str) -> Result<Self, Vec<Problem>> {
        let base = settings.api_base();
        let url = base.parse().map_err(|e| vec![Problem::at(format!("{at}.api_url"), format!("`{base}`: {e}"))])?;
        // The HTTP timeout must outlast a long poll, or every quiet poll would end as a network error.
        let client = teloxide::net::default_reqwest_settings()
            .timeout(settings.poll_timeout + std::time::Duration::from_secs(15))
            .build()
            .map_err(|e| vec![Problem::at(at, format!("cannot set up the HTTP client: {e}"))])?;
        crate::redact::protect(settings.token.expose());
        let bot = Bot::with_client(settings.token.expose(), client).set_api_url(url);
        let username = OnceLock::new();
        if let Some(name) = settings.username() {
            let _ = username.set(name.to_string());
        }
        let backoff = Backoff::default().for_platform(palisade_core::Platform::TELEGRAM);
        Ok(Self { bot, username, buttons: ButtonIds::default(), backoff })
    }

    /// The bot.
    pub fn bot(&self) -> &Bot {
        &self.bot
    }

    /// The bot's own user id: the token's part before the colon (public; the part after it is the secret).
    pub fn bot_id(&self) -> Option<u64> {
        self.bot.token().split_once(':').and_then(|(id, _)| id.parse().ok())
    }

    /// The bot's username (configured, or learnt with getMe at start).
    pub fn username(&self) -> Option<&str> {
        self.username.get().map(String::as_str)
    }

    /// Records the username learnt with getMe.
    pub fn learn_username(&self, name: &str) {
        let _ = self.username.set(name.to_string());
    }

    /// The opaque button ids.
    pub fn buttons(&self) -> &ButtonIds {
        &self.buttons
    }

    /// A description of `error` safe to log: no token, no message content.
    pub fn describe(&self, error: &RequestError) -> String {
        crate::redact::describe(error)
    }

    /// Runs `call` with retries (429 `retry_after`, network errors with backoff).
    pub async fn call<T, F, Fut>(&self, op: &'static str, call: F) -> Result<T, RequestError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, RequestError>>,
    {
        self.backoff.run(op, crate::retry::classify, |e| self.describe(e), call).await
    }
}
