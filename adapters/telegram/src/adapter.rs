//! The Telegram adapter: learns its username at start, then receives by long polling or webhook until told
//! to stop.

use std::net::SocketAddr;
use std::sync::Arc;

use palisade_core::config::Problem;
use palisade_core::{Adapter, AdapterError, Capabilities, EventSink, Outbox, Platform, Section};
use teloxide::prelude::Requester;
use teloxide::requests::Request;
use teloxide::{ApiError, RequestError};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::api::Api;
use crate::outbox::TelegramOutbox;
use crate::settings::{Mode, TelegramSettings};

/// What Telegram allows a bot.
pub const CAPABILITIES: Capabilities = Capabilities {
    max_message_len: 4096,
    can_delete_user_messages: true,
    ephemeral_replies: false,
    private_input: false,
    direct_messages: true,
    images: true,
};

/// The Telegram adapter.
pub struct TelegramAdapter {
    settings: TelegramSettings,
    api: Arc<Api>,
    outbox: Arc<TelegramOutbox>,
    listening: watch::Sender<Option<SocketAddr>>,
}

impl std::fmt::Debug for TelegramAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramAdapter").field("mode", &self.settings.mode).finish_non_exhaustive()
    }
}

impl TelegramAdapter {
    /// An adapter for `settings`, checked; `at` is the table's key path for problems.
    pub fn new(settings: TelegramSettings, at: &str) -> Result<Self, Vec<Problem>> {
        let problems = settings.validate(at);
        if !problems.is_empty() {
            return Err(problems);
        }
        let api = Arc::new(Api::new(&settings, at)?);
        let outbox = Arc::new(TelegramOutbox::new(api.clone()));
        Ok(Self { settings, api, outbox, listening: watch::Sender::new(None) })
    }

    /// An adapter from its `[adapters.telegram]` table.
    pub fn from_section(section: &Section) -> Result<Self, Vec<Problem>> {
        Self::new(section.parse()?, section.path())
    }

    /// How updates arrive.
    pub fn mode(&self) -> Mode {
        self.settings.mode
    }

    /// The webhook's bound address once it listens (useful with port 0); stays `None` in polling mode.
    pub fn listening(&self) -> watch::Receiver<Option<SocketAddr>> {
        self.listening.subscribe()
    }

    /// Learns the bot's username with getMe unless configured; also proves the token works.
    async fn introduce(&self) -> Result<(), AdapterError> {
        if self.api.username().is_some() {
            return Ok(());
        }
        let bot = self.api.bot();
        let me = self.api.call("getMe", || bot.get_me().send()).await.map_err(|e| self.start_error(&e))?;
        self.api.learn_username(me.username());
        tracing::info!(username = me.username(), "Telegram bot identified");
        Ok(())
    }

    fn start_error(&self, error: &RequestError) -> AdapterError {
        let reason = match error {
            RequestError::Api(ApiError::InvalidToken) => {
                "Telegram rejected the bot token; check [adapters.telegram] token (from @BotFather)".to_string()
            }
            RequestError::Network(_) => format!(
                "cannot reach the Bot API at {} ({}); check the network or [adapters.telegram] api_url",
                self.settings.api_base(),
                self.api.describe(error)
            ),
            _ => format!("getMe failed: {}", self.api.describe(error)),
        };
        AdapterError::Start { platform: Platform::TELEGRAM, reason }
    }
}

#[palisade_core::async_trait]
impl Adapter for TelegramAdapter {
    fn platform(&self) -> Platform {
        Platform::TELEGRAM
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    fn outbox(&self) -> Arc<dyn Outbox> {
        self.outbox.clone()
    }

    fn listens(&self) -> Vec<(String, std::net::SocketAddr)> {
        match (&self.settings.webhook, self.settings.mode) {
            (Some(hook), crate::settings::Mode::Webhook) => {
                vec![("adapters.telegram.webhook.listen".into(), hook.listen)]
            }
            _ => Vec::new(),
        }
    }

    fn send_policy(&self) -> palisade_core::SendPolicy {
        self.settings.limits.policy()
    }

    async fn run(self: Box<Self>, sink: EventSink, shutdown: CancellationToken) -> Result<(), AdapterError> {
        // With replicas: a button sent by one is resolved by whichever receives the press.
        if let Some(book) = sink.id_book() {
            self.api.buttons().share(book);
        }
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            started = self.introduce() => started?,
        }
        match (&self.settings.mode, &self.settings.webhook) {
            (Mode::Webhook, Some(hook)) => {
                crate::webhook::run(self.api.clone(), sink, shutdown, hook, self.listening.clone()).await
            }
            _ => crate::polling::run(self.api.clone(), sink, shutdown, self.settings.poll_timeout).await,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    #[test]
    fn debug_output_never_shows_the_token() {
        let token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
        let section = Section::new("adapters.telegram", json!({ "token": token })).unwrap();
        let adapter = TelegramAdapter::from_section(&section).unwrap();
        let shown = format!("{adapter:?} {:?} {:?} {:?}", adapter.outbox, adapter.api, adapter.settings);
        assert!(!shown.contains(token) && !shown.contains("AAHdqTcv"), "{shown}");
        assert_eq!(adapter.capabilities().max_message_len, 4096);
    }
}
