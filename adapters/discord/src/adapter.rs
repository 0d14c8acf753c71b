//! The Discord adapter: registers the slash commands, then receives through the interactions endpoint or
//! the gateway until told to stop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use palisade_core::config::Problem;
use palisade_core::{Adapter, AdapterError, Capabilities, Command, EventSink, Outbox, Platform, Section};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::components::Components;
use crate::download::Downloader;
use crate::exchange::Exchanges;
use crate::intake::{DEFAULT_ACK_WITHIN, Intake};
use crate::outbox::DiscordOutbox;
use crate::rest::Rest;
use crate::settings::{DiscordSettings, Mode};
use crate::verify::Authenticator;

/// What Discord allows a bot. Interactions have no user message to delete; modals give private input;
/// ephemeral replies are seen by one user only.
pub const CAPABILITIES: Capabilities = Capabilities {
    max_message_len: 2000,
    can_delete_user_messages: false,
    ephemeral_replies: true,
    private_input: true,
    direct_messages: true,
    images: true,
};

/// The Discord adapter.
pub struct DiscordAdapter {
    settings: DiscordSettings,
    rest: Arc<Rest>,
    exchanges: Arc<Exchanges>,
    components: Arc<Components>,
    outbox: Arc<DiscordOutbox>,
    auth: Authenticator,
    commands: Vec<Command>,
    ack_within: Duration,
    listening: watch::Sender<Option<SocketAddr>>,
}

impl std::fmt::Debug for DiscordAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordAdapter").field("mode", &self.settings.mode).finish_non_exhaustive()
    }
}

impl DiscordAdapter {
    /// An adapter for `settings`, checked; `at` is the table's key path for problems.
    pub fn new(settings: DiscordSettings, at: &str) -> Result<Self, Vec<Problem>> {
        let problems = settings.validate(at);
        let auth = Authenticator::new(&settings.public_key, settings.freshness);
        let Some(auth) = auth.filter(|_| problems.is_empty()) else {
            return Err(problems);
        };
        let rest = Arc::new(Rest::new(&settings));
        let (exchanges, components) = (Arc::new(Exchanges::default()), Arc::new(Components::default()));
        let files = Downloader::new(settings.proxy_base());
        let outbox = Arc::new(DiscordOutbox::new(rest.clone(), exchanges.clone(), components.clone(), files));
        Ok(Self {
            settings,
            rest,
            exchanges,
            components,
            outbox,
            auth,
            commands: Vec::new(),
            ack_within: DEFAULT_ACK_WITHIN,
            listening: watch::Sender::new(None),
        })
    }

    /// An adapter from its `[adapters.discord]` table.
    pub fn from_section(section: &Section) -> Result<Self, Vec<Problem>> {
        Self::new(section.parse()?, section.path())
    }

    /// How long an interaction waits for its first reply before being answered "deferred" (default 2 s;
    /// Discord allows 3 s for the whole answer; zero defers every interaction at once).
    #[must_use]
    pub fn with_ack_within(mut self, ack_within: Duration) -> Self {
        self.ack_within = ack_within.min(Duration::from_millis(2_500));
        self
    }

    /// How interactions arrive.
    pub fn mode(&self) -> Mode {
        self.settings.mode
    }

    /// The endpoint's bound address once it listens (useful with port 0); stays `None` in gateway mode.
    pub fn listening(&self) -> watch::Receiver<Option<SocketAddr>> {
        self.listening.subscribe()
    }

    /// The REST client (for callers that need the same proxy and token, e.g. tests).
    pub fn rest(&self) -> &Arc<Rest> {
        &self.rest
    }

    fn intake(&self, sink: EventSink) -> Intake {
        Intake {
            sink,
            exchanges: self.exchanges.clone(),
            components: self.components.clone(),
            outbox: self.outbox.clone(),
            ack_within: self.ack_within,
            in_flight: Arc::new(tokio::sync::Semaphore::new(crate::intake::MAX_IN_FLIGHT)),
        }
    }

    /// Registers the slash commands (when there are any); a refusal stops the start, with what to check.
    async fn register(&self) -> Result<(), AdapterError> {
        if self.commands.is_empty() {
            return Ok(());
        }
        let registered = crate::commands::register(&self.rest, self.settings.guild_id, &self.commands).await;
        let registered = registered.map_err(|e| AdapterError::Start {
            platform: Platform::DISCORD,
            reason: format!(
                "registering the slash commands failed ({e}); check [adapters.discord] token, application_id and guild_id (the bot must be in that guild)"
            ),
        })?;
        tracing::info!(
            commands = registered.len(),
            guild = self.settings.guild_id.is_some(),
            "Discord slash commands registered"
        );
        Ok(())
    }
}

#[palisade_core::async_trait]
impl Adapter for DiscordAdapter {
    fn platform(&self) -> Platform {
        Platform::DISCORD
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    fn outbox(&self) -> Arc<dyn Outbox> {
        self.outbox.clone()
    }

    fn listens(&self) -> Vec<(String, std::net::SocketAddr)> {
        match self.settings.mode {
            crate::settings::Mode::Interactions => vec![("adapters.discord.listen".into(), self.settings.listen)],
            crate::settings::Mode::Gateway => Vec::new(),
        }
    }

    // No send policy of its own: most replies answer an interaction (its callback or a follow-up through
    // the interaction's webhook), which neither a channel's limit nor the bot's global limit applies to; for
    // the rest, serenity keeps each route's bucket and the global limit as the API reports them in its
    // headers and waits out a 429.

    fn register_commands(&mut self, commands: &[Command]) {
        self.commands = commands.to_vec();
    }

    async fn run(self: Box<Self>, sink: EventSink, shutdown: CancellationToken) -> Result<(), AdapterError> {
        // With replicas: a component sent by one is resolved by whichever receives the press.
        if let Some(book) = sink.id_book() {
            self.components.share(book);
        }
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            registered = self.register() => registered?,
        }
        let intake = self.intake(sink);
        match self.settings.mode {
            Mode::Interactions => {
                let s = &self.settings;
                crate::endpoint::run(s.listen, &s.path, self.auth.clone(), intake, shutdown, self.listening.clone())
                    .await
            }
            Mode::Gateway => crate::gateway::run(&self.settings, self.rest.clone(), intake, shutdown).await,
        }
    }
}
