//! Gateway mode: a serenity client on Discord's websocket, with the fewest intents that work.
//!
//! Interactions arrive as gateway events (authenticated by the connection itself) and get the same first
//! answers as on the endpoint, sent to the interaction callback. Direct messages are read as text and
//! commands (`DIRECT_MESSAGES`); guild messages only with `prefix_commands`, which adds `GUILD_MESSAGES` and
//! the privileged `MESSAGE_CONTENT`, and then only commands (`/name …`) are taken from them. Messages from
//! bots, including this one, are ignored.

use std::sync::Arc;

use palisade_core::{AdapterError, ChatKind, ChatRef, Connection, Event, EventKind, MessageId, Platform, UserRef};
use serenity::all::{Context, EventHandler, GatewayIntents, Interaction as SerenityInteraction, Message, Ready};
use serenity::builder::Builder;
use serenity::client::ClientBuilder;
use serenity::model::id::InteractionId;
use tokio_util::sync::CancellationToken;

use crate::intake::Intake;
use crate::rest::Rest;
use crate::settings::DiscordSettings;

/// The intents the bot asks for.
pub fn intents(prefix_commands: bool) -> GatewayIntents {
    let mut intents = GatewayIntents::DIRECT_MESSAGES;
    if prefix_commands {
        intents |= GatewayIntents::GUILD_MESSAGES | GatewayIntents::MESSAGE_CONTENT;
    }
    intents
}

struct Handler {
    intake: Intake,
    rest: Arc<Rest>,
    prefix_commands: bool,
}

/// Connects and handles events until `shutdown`.
pub async fn run(
    settings: &DiscordSettings,
    rest: Arc<Rest>,
    intake: Intake,
    shutdown: CancellationToken,
) -> Result<(), AdapterError> {
    let handler = Handler { intake, rest, prefix_commands: settings.prefix_commands };
    let client = ClientBuilder::new_with_http(Rest::build_http(settings), intents(settings.prefix_commands))
        .event_handler(handler)
        .await;
    let mut client = client.map_err(|e| AdapterError::Start {
        platform: Platform::DISCORD,
        reason: format!("could not set up the gateway client: {e}"),
    })?;
    let shards = client.shard_manager.clone();
    tokio::select! {
        () = shutdown.cancelled() => {
            shards.shutdown_all().await;
            Ok(())
        }
        ended = client.start() => ended.map_err(|e| AdapterError::Failed {
            platform: Platform::DISCORD,
            reason: format!(
                "the gateway connection ended: {e}; check the token, and that the intents the bot asks for are enabled in the developer portal"
            ),
        }),
    }
}

impl Handler {
    /// The event for a message, if the bot takes it.
    fn event(&self, msg: &Message) -> Option<Event> {
        if msg.author.bot || msg.content.trim().is_empty() {
            return None;
        }
        let (kind, chat_kind) = match msg.guild_id {
            None => (EventKind::from_text(msg.content.trim(), None), ChatKind::Direct),
            Some(_) if self.prefix_commands => match EventKind::from_text(msg.content.trim(), None) {
                command @ EventKind::Command(_) => (command, ChatKind::Group),
                _ => return None,
            },
            Some(_) => return None,
        };
        let user = UserRef::new(Platform::DISCORD, msg.author.id.to_string());
        Some(Event {
            user,
            display_name: Some(msg.author.global_name.clone().unwrap_or_else(|| msg.author.name.clone())),
            chat: ChatRef::new(Platform::DISCORD, msg.channel_id.to_string(), chat_kind),
            message_id: Some(MessageId(msg.id.to_string())),
            kind,
            private_input: false,
            addressed: false,
        })
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
        let Some(event) = self.event(&msg) else { return };
        // A typed message is answered with messages, not through an earlier interaction's token.
        self.intake.exchanges.forget(&event.user.id, &event.chat.id);
        if self.intake.sink.submit_delivery(event, format!("discord:message:{}", msg.id)).await.is_err() {
            tracing::debug!("dispatcher closed; message dropped");
        }
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
