//! The Bot API client shared by the receiving side and the outbox: teloxide's `Bot`, a `Throttle` in front of
//! it for sends (Telegram's per-chat and overall limits), retries, and safe error descriptions.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, OnceLock, PoisonError};

use palisade_core::config::Problem;
use teloxide::adaptors::Throttle;
use teloxide::adaptors::throttle::{Limits, Settings as ThrottleSettings};
use teloxide::{Bot, RequestError};

use crate::buttons::ButtonIds;
use crate::settings::TelegramSettings;
use palisade_adapter_kit::Backoff;

type Worker = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Everything needed to talk to the Bot API.
pub struct Api {
    bot: Bot,
    throttle: Throttle<Bot>,
    /// The throttle's worker, spawned on first use: the adapter may be built outside a runtime
    /// (`palisade config check`), and a throttle without its worker would never send.
    worker: Mutex<Option<Worker>>,
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
        let l = settings.limits;
        let limits = Limits {
            messages_per_sec_chat: l.per_chat_per_second,
            messages_per_min_chat: l.per_chat_per_minute,
            messages_per_min_channel_or_supergroup: l.per_group_per_minute,
            messages_per_sec_overall: l.overall_per_second,
        };
        // `no_retry`: 429s are retried by `Backoff`, uniformly for sends and the calls the throttle lets through.
        let (throttle, worker) =
            Throttle::with_settings(bot.clone(), ThrottleSettings::default().limits(limits).no_retry());
        let username = OnceLock::new();
        if let Some(name) = settings.username() {
            let _ = username.set(name.to_string());
        }
        Ok(Self {
            bot,
            throttle,
            worker: Mutex::new(Some(Box::pin(worker))),
            username,
            buttons: ButtonIds::default(),
            backoff: Backoff::default(),
        })
    }

    /// The bot for calls Telegram does not rate-limit per chat (getUpdates, deleteMessage, …).
    pub fn bot(&self) -> &Bot {
        &self.bot
    }

    /// The throttled bot for sending messages. Must be called inside the runtime.
    pub fn sender(&self) -> &Throttle<Bot> {
        if let Some(worker) = self.worker.lock().unwrap_or_else(PoisonError::into_inner).take() {
            tokio::spawn(worker);
        }
        &self.throttle
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
