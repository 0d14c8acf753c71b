//! Gateway mode: a serenity client on Discord's websocket, with the fewest intents that work.
//!
//! Interactions arrive as gateway events (authenticated by the connection itself) and get the same first
//! answers as on the endpoint, sent to the interaction callback. Direct messages are read as text, commands
//! and files (`DIRECT_MESSAGES`); guild messages only with `prefix_commands` (adds `GUILD_MESSAGES` and the
//! privileged `MESSAGE_CONTENT`; commands only) or `guild_mentions` (adds `GUILD_MESSAGES`; messages that
//! mention the bot or reply to it). `member_events` adds the privileged `GUILD_MEMBERS`, `reactions` the two
//! reaction intents. What each dispatch becomes is in [`crate::dispatches`].

use std::sync::Arc;

use std::sync::OnceLock;

use palisade_core::{AdapterError, Connection, Envelope, Event, Platform};
use serenity::all::{
    Context, EventHandler, GatewayIntents, GuildId, Interaction as SerenityInteraction, Member, Message,
    MessageUpdateEvent, Reaction, Ready, User, UserId,
};
use serenity::builder::Builder;
use serenity::client::ClientBuilder;
use serenity::model::id::InteractionId;
use tokio_util::sync::CancellationToken;

use crate::dispatches::{self, Reading};
use crate::intake::Intake;
use crate::order::Sequencer;
use crate::rest::Rest;
use crate::settings::DiscordSettings;

/// The intents the bot asks for: the fewest its settings need.
pub fn intents(settings: &DiscordSettings) -> GatewayIntents {
    let mut intents = GatewayIntents::DIRECT_MESSAGES;
    if settings.prefix_commands {
        intents |= GatewayIntents::GUILD_MESSAGES | GatewayIntents::MESSAGE_CONTENT;
    }
    if settings.guild_mentions {
        intents |= GatewayIntents::GUILD_MESSAGES;
    }
    if settings.member_events {
        intents |= GatewayIntents::GUILD_MEMBERS;
    }
    if settings.reactions {
        intents |= GatewayIntents::GUILD_MESSAGE_REACTIONS | GatewayIntents::DIRECT_MESSAGE_REACTIONS;
    }
    intents
}

struct Handler {
    intake: Intake,
    rest: Arc<Rest>,
    reading: Reading,
    /// The bot's own user id, from READY.
    me: OnceLock<UserId>,
    /// Messages put back in the order they were sent, per conversation.
    order: Sequencer<(serenity::all::MessageId, Vec<Event>)>,
}

/// Which shards one gateway client runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shards {
    /// All `n` of them (a bot running alone).
    All(u32),
    /// Shard `id` of `total` (one replica's share).
    One {
        /// The shard's number, from 0.
        id: u32,
        /// How many shards there are.
        total: u32,
    },
}

/// Connects and handles events until `shutdown`: every shard when the bot runs alone, and with replicas
/// the shards this replica leads ([`crate::shards`]).
pub async fn run(
    settings: &DiscordSettings,
    rest: Arc<Rest>,
    intake: Intake,
    shutdown: CancellationToken,
) -> Result<(), AdapterError> {
    let total = settings.shards.max(1);
    if intake.sink.has_replicas() {
        return crate::shards::spread(settings, rest, intake, total, shutdown).await;
    }
    connect(settings, rest, intake, Shards::All(total), shutdown).await
}

/// One gateway client running `shards` until `stop`.
pub async fn connect(
    settings: &DiscordSettings,
    rest: Arc<Rest>,
    intake: Intake,
    shards: Shards,
    stop: CancellationToken,
) -> Result<(), AdapterError> {
    let reading = Reading { prefix_commands: settings.prefix_commands, guild_mentions: settings.guild_mentions };
    let handler = Handler { intake, rest, reading, me: OnceLock::new(), order: Sequencer::default() };
    let client =
        ClientBuilder::new_with_http(Rest::build_http(settings), intents(settings)).event_handler(handler).await;
    let mut client = client.map_err(|e| AdapterError::Start {
        platform: Platform::DISCORD,
        reason: format!("could not set up the gateway client: {e}"),
    })?;
    let manager = client.shard_manager.clone();
    let started = async {
        match shards {
            Shards::All(1) => client.start().await,
            Shards::All(n) => client.start_shards(n).await,
            Shards::One { id, total } => client.start_shard(id, total).await,
        }
    };
    tokio::select! {
        () = stop.cancelled() => {
            manager.shutdown_all().await;
            Ok(())
        }
        ended = started => ended.map_err(|e| AdapterError::Failed {
            platform: Platform::DISCORD,
            reason: format!(
                "the gateway connection ended: {e}; check the token, and that the intents the bot asks for are enabled in the developer portal"
            ),
        }),
    }
}

impl Handler {
    fn me(&self) -> Option<UserId> {
        self.me.get().copied()
    }

    /// Submits an event (under its delivery id when the dispatch has one: a repeat of it is then dropped).
    async fn submit(&self, envelope: Option<Envelope>) {
        let Some(envelope) = envelope else { return };
        if self.intake.sink.submit_envelope(envelope).await.is_err() {
            tracing::debug!("dispatcher closed; gateway event dropped");
        }
    }
}

/// serenity's model as Discord's JSON; serenity leaves out the `type` tag, which the variant gives.
fn to_value(interaction: &SerenityInteraction) -> Result<serde_json::Value, String> {
    let kind = match interaction {
        SerenityInteraction::Ping(_) => 1,
        SerenityInteraction::Command(_) => 2,
        SerenityInteraction::Component(_) => 3,
        SerenityInteraction::Autocomplete(_) => 4,
        SerenityInteraction::Modal(_) => 5,
        _ => 0,
    };
    let mut value = serde_json::to_value(interaction).map_err(|e| e.to_string())?;
    if let Some(map) = value.as_object_mut() {
        map.insert("type".into(), kind.into());
    }
    Ok(value)
}

#[serenity::async_trait]
impl EventHandler for Handler {
    async fn ready(&self, _ctx: Context, ready: Ready) {
        tracing::info!(guilds = ready.guilds.len(), "Discord gateway ready");
        let _ = self.me.set(ready.user.id);
        self.intake.sink.connection(Platform::DISCORD, Connection::Connected);
    }

    async fn shard_stage_update(&self, _ctx: Context, update: serenity::all::ShardStageUpdateEvent) {
        use serenity::gateway::ConnectionStage;
        match update.new {
            ConnectionStage::Connected => self.intake.sink.connection(Platform::DISCORD, Connection::Connected),
            stage => {
                let state = Connection::Reconnecting(format!("gateway {}", stage.to_string().to_lowercase()));
                self.intake.sink.connection(Platform::DISCORD, state);
            }
        }
    }

    async fn message(&self, _ctx: Context, msg: Message) {
        let events = dispatches::message(&msg, self.me(), self.reading);
        if events.is_empty() {
            return;
        }
        let lane = (msg.author.id.get(), msg.channel_id.get());
        // In the order the user sent them, even when serenity hands two dispatches in the other way round.
        // Whichever task empties the lane submits the others' messages too: each carries its own id.
        self.order
            .submit(lane, msg.id.get(), (msg.id, events), |(id, events)| async move {
                let delivery = format!("discord:message:{id}");
                for (n, event) in events.into_iter().enumerate() {
                    // A typed message is answered with messages, not through an earlier interaction's token.
                    self.intake.exchanges.forget(&event.user.id, &event.chat.id);
                    // The message's id, and `…/<n>` for its second and later attachments.
                    self.submit(Some(Envelope::new(event).delivery_part(&delivery, n))).await;
                }
            })
            .await;
    }

    async fn message_update(&self, _: Context, _: Option<Message>, _: Option<Message>, update: MessageUpdateEvent) {
        let event = dispatches::edit(&update, self.me(), self.reading);
        // An edit has no id of its own: the message and its edit time name it.
        let at = update.edited_timestamp.map(|t| t.unix_timestamp()).unwrap_or_default();
        self.submit(event.map(|e| Envelope::new(e).delivery(format!("discord:edit:{}:{at}", update.id)))).await;
    }

    async fn reaction_add(&self, _ctx: Context, reaction: Reaction) {
        // A reaction has no id or time: one taken back and added again is a new event, so none is given.
        self.submit(dispatches::reaction(&reaction, self.me()).map(Envelope::new)).await;
    }

    async fn guild_member_addition(&self, _ctx: Context, member: Member) {
        let at = member.joined_at.map(|t| t.unix_timestamp()).unwrap_or_default();
        let delivery = format!("discord:joined:{}:{}:{at}", member.guild_id, member.user.id);
        self.submit(dispatches::joined(&member).map(|e| Envelope::new(e).delivery(delivery))).await;
    }

    async fn guild_member_removal(&self, _: Context, guild: GuildId, user: User, _: Option<Member>) {
        // A removal has no id or time (leaving twice in a day is two events), so none is given.
        self.submit(dispatches::left(guild, &user).map(Envelope::new)).await;
    }

    async fn interaction_create(&self, _ctx: Context, interaction: SerenityInteraction) {
        let parsed = to_value(&interaction).and_then(|v| crate::interaction::from_value(v).map_err(|e| e.to_string()));
        let parsed = match parsed {
            Ok(p) => p,
            Err(error) => {
                tracing::warn!(%error, "could not read a gateway interaction; ignored");
                return;
            }
        };
        let (id, token) = (InteractionId::new(parsed.id), parsed.token.clone());
        // A repeated dispatch (`Ok(None)`) was answered the first time.
        let Ok(Some(answer)) = self.intake.take(parsed).await else { return };
        let http = self.rest.http().as_ref();
        let sent =
            self.rest.call("answer interaction", false, || answer.clone().execute(http, (id, token.expose()))).await;
        if let Err(error) = sent {
            tracing::warn!(%error, "could not answer an interaction");
        }
    }
}
