//! The Slack adapter: learns who the bot is at start (which also proves the bot token), then receives over
//! Socket Mode or the Events API until told to stop.

use std::net::SocketAddr;
use std::sync::Arc;

use palisade_core::config::Problem;
use palisade_core::{Adapter, AdapterError, Capabilities, EventSink, Outbox, Platform, Section};
use slack_morphism::errors::SlackClientError;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::api::{Api, describe};
use crate::outbox::SlackOutbox;
use crate::receive::Receiver;
use crate::settings::{Mode, SlackSettings};
use crate::shared::Shared;

/// What Slack allows a bot.
///
/// `max_message_len` is 3000 because text travels in a Block Kit section (needed for buttons), whose text
/// Slack caps at 3000 characters; the `text` field alone would take 40 000. A bot token cannot delete what
/// users write. Ephemeral messages, modals (private input), direct messages and uploaded images all exist.
pub const CAPABILITIES: Capabilities = Capabilities {
    max_message_len: crate::blocks::SECTION_MAX,
    can_delete_user_messages: false,
    ephemeral_replies: true,
    private_input: true,
    direct_messages: true,
    images: true,
};

/// The Slack adapter.
pub struct SlackAdapter {
    settings: SlackSettings,
    shared: Arc<Shared>,
    outbox: Arc<SlackOutbox>,
    listening: watch::Sender<Option<SocketAddr>>,
    /// The bot's command names, for the reminder at start-up.
    commands: Vec<&'static str>,
}

impl std::fmt::Debug for SlackAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackAdapter").field("mode", &self.settings.mode).finish_non_exhaustive()
    }
}

impl SlackAdapter {
    /// An adapter for `settings`, checked; `at` is the table's key path for problems.
    pub fn new(settings: SlackSettings, at: &str) -> Result<Self, Vec<Problem>> {
        let problems = settings.validate(at);
        if !problems.is_empty() {
            return Err(problems);
        }
        let api = Api::new(&settings).map_err(|e| vec![Problem::at(format!("{at}.api_url"), e)])?;
        let shared = Arc::new(Shared::new(Arc::new(api)));
        let outbox = Arc::new(SlackOutbox::new(shared.clone()));
        Ok(Self { settings, shared, outbox, listening: watch::Sender::new(None), commands: Vec::new() })
    }

    /// An adapter from its `[adapters.slack]` table.
    pub fn from_section(section: &Section) -> Result<Self, Vec<Problem>> {
        Self::new(section.parse()?, section.path())
    }

    /// How traffic arrives.
    pub fn mode(&self) -> Mode {
        self.settings.mode
    }

    /// The events listener's bound address once it listens (useful with port 0); `None` in socket mode.
    pub fn listening(&self) -> watch::Receiver<Option<SocketAddr>> {
        self.listening.subscribe()
    }

    /// Asks `auth.test` who the bot is.
    async fn introduce(&self) -> Result<(), AdapterError> {
        let me = self.shared.api.introduce().await.map_err(|e| self.start_error(&e))?;
        tracing::info!(team = me.team_id, "Slack bot identified");
        if !self.commands.is_empty() {
            // Slack has no API for a bot to declare slash commands: they live in the app's configuration.
            let commands: Vec<String> = self.commands.iter().map(|c| format!("/{c}")).collect();
            let commands = commands.join(" ");
            tracing::info!(commands, "each of these must be a slash command in the Slack app's configuration");
        }
        Ok(())
    }

    fn start_error(&self, error: &SlackClientError) -> AdapterError {
        let reason = match error {
            SlackClientError::ApiError(e)
                if ["invalid_auth", "not_authed", "account_inactive", "token_revoked"].contains(&e.code.as_str()) =>
            {
                format!("Slack rejected the bot token ({}); check [adapters.slack] bot_token (xoxb-…)", e.code)
            }
            SlackClientError::HttpProtocolError(_) => format!(
                "cannot reach the Web API at {} ({}); check the network or [adapters.slack] api_url",
                self.settings.api_base(),
                describe(error)
            ),
            _ => format!("auth.test failed: {}", describe(error)),
        };
        AdapterError::Start { platform: Platform::SLACK, reason }
    }
}

#[palisade_core::async_trait]
impl Adapter for SlackAdapter {
    fn platform(&self) -> Platform {
        Platform::SLACK
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    fn outbox(&self) -> Arc<dyn Outbox> {
        self.outbox.clone()
    }

    /// Slack allows about one message per second per channel, with short bursts (`chat.postMessage`'s
    /// special limit); a 429 beyond that is waited out as its `Retry-After` says.
    fn send_policy(&self) -> palisade_core::SendPolicy {
        let burst = palisade_core::SendRate::new(5, std::time::Duration::from_secs(5));
        palisade_core::SendPolicy { per_chat: vec![burst], ..palisade_core::SendPolicy::default() }
    }

    fn listens(&self) -> Vec<(String, std::net::SocketAddr)> {
        match (self.settings.mode, self.settings.listen) {
            (Mode::Events, Some(addr)) => vec![("adapters.slack.listen".into(), addr)],
            _ => Vec::new(),
        }
    }

    fn register_commands(&mut self, commands: &[palisade_core::plugin::Command]) {
        self.commands = commands.iter().map(|c| c.name).collect();
    }

    async fn run(self: Box<Self>, sink: EventSink, shutdown: CancellationToken) -> Result<(), AdapterError> {
        // With replicas: a button sent by one is resolved by whichever receives the press.
        if let Some(book) = sink.id_book() {
            self.shared.buttons.share(book);
        }
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            started = self.introduce() => started?,
        }
        let receiver = Receiver::new(self.shared.clone(), sink);
        let s = &self.settings;
        match (s.mode, &s.app_token, &s.signing_secret, s.listen) {
            (Mode::Socket, Some(app_token), _, _) => {
                let api = self.shared.api.clone();
                crate::socket::run(api, receiver, app_token, s.socket_connections, shutdown).await
            }
            (Mode::Events, _, Some(secret), Some(listen)) => {
                let listening = self.listening.clone();
                crate::events::run(receiver, secret.clone(), listen, &s.path, listening, shutdown).await
            }
            // `new` validated the settings, so this is unreachable in practice.
            _ => Err(AdapterError::Start {
                platform: Platform::SLACK,
                reason: "incomplete [adapters.slack] settings; run `palisade config check`".into(),
            }),
        }
    }
}
