//! The parts of a Discord interaction the bot uses, read from its (already authenticated) JSON.
//!
//! Parsed with small local types rather than serenity's full model, so that a field Discord adds, or one
//! the bot does not need, can never make an authenticated interaction unreadable. Identity is the user's
//! snowflake; the chat is the channel, direct for DM channels and a group otherwise.

use serde::Deserialize;
use serde_json::Value;

use palisade_core::{ChatKind, ChatRef, Platform, Secret, UserRef};

/// Discord's interaction types.
mod kind {
    pub const PING: u8 = 1;
    pub const APPLICATION_COMMAND: u8 = 2;
    pub const MESSAGE_COMPONENT: u8 = 3;
    pub const AUTOCOMPLETE: u8 = 4;
    pub const MODAL_SUBMIT: u8 = 5;
}

/// Channel type of a DM.
const DM_CHANNEL: u8 = 1;
/// The option type of a user picked from a list.
const USER_OPTION: u64 = 6;

/// Option types that nest further options.
const SUB_COMMAND: u8 = 1;
const SUB_COMMAND_GROUP: u8 = 2;

/// What the user did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Discord checking the endpoint.
    Ping,
    /// A slash command: its name and the option values in order, joined by spaces.
    Command {
        /// Lowercase command name.
        name: String,
        /// Option values (sub-command names first).
        args: String,
    },
    /// A button press, with the button's custom id.
    Component {
        /// The custom id the bot gave the button.
        custom_id: String,
    },
    /// A submitted modal, with the text typed into its first text input.
    ModalSubmit {
        /// What the user typed.
        text: String,
    },
    /// An autocomplete request (answered with no suggestions).
    Autocomplete,
    /// Anything else (a context-menu command, a future type).
    Unsupported,
}

/// One authenticated interaction.
#[derive(Debug, Clone)]
pub struct Interaction {
    /// The interaction id (also the replay key).
    pub id: u64,
    /// The token for answering and following up (valid 15 minutes); a credential, never printed.
    pub token: Secret,
    /// What the user did.
    pub action: Action,
    /// Who did it (absent only for PING).
    pub user: Option<UserRef>,
    /// Their display name, for greetings only.
    pub display_name: Option<String>,
    /// Where (absent only for PING).
    pub chat: Option<ChatRef>,
    /// The user's client language (`de`, `en-US`), which Discord sends with every interaction but PING.
    pub locale: Option<String>,
}

/// Why a body could not be read as an interaction.
#[derive(Debug, thiserror::Error)]
#[error("not a Discord interaction: {0}")]
pub struct ParseError(String);

#[derive(Deserialize)]
struct Raw {
    id: String,
    #[serde(rename = "type")]
    kind: u8,
    #[serde(default)]
    token: String,
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    guild_id: Option<String>,
    #[serde(default)]
    channel_id: Option<String>,
    #[serde(default)]
    channel: Option<RawChannel>,
    #[serde(default)]
    member: Option<RawMember>,
    #[serde(default)]
    user: Option<RawUser>,
    /// Where the interaction happened: 0 a guild, 1 the bot's DM with the user, 2 any other private channel
    /// (a DM or group DM between people, where a user-installed app can be used). Absent in older payloads.
    #[serde(default)]
    context: Option<u8>,
    #[serde(default)]
    locale: Option<String>,
}

/// `context` of an interaction in the user's DM with the bot.
const BOT_DM: u8 = 1;

#[derive(Deserialize)]
struct RawChannel {
    id: String,
    #[serde(rename = "type")]
    kind: u8,
}

#[derive(Deserialize)]
struct RawMember {
    user: RawUser,
    #[serde(default)]
    nick: Option<String>,
}

#[derive(Deserialize)]
struct RawUser {
    id: String,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    global_name: Option<String>,
}

fn snowflake(s: &str) -> Result<u64, ParseError> {
    s.parse().ok().filter(|v| *v != 0).ok_or_else(|| ParseError("an id is not a snowflake".into()))
}

/// Reads an interaction from its JSON body.
pub fn parse(body: &[u8]) -> Result<Interaction, ParseError> {
    let raw: Raw = serde_json::from_slice(body).map_err(|e| ParseError(e.to_string()))?;
    from_raw(raw)
}

/// Reads an interaction from a JSON value (the gateway hands serenity's model, re-serialised).
pub fn from_value(value: Value) -> Result<Interaction, ParseError> {
    let raw: Raw = serde_json::from_value(value).map_err(|e| ParseError(e.to_string()))?;
    from_raw(raw)
}

fn from_raw(raw: Raw) -> Result<Interaction, ParseError> {
    let id = snowflake(&raw.id)?;
    let action = action(raw.kind, raw.data.as_ref());
    if action != Action::Ping && raw.token.is_empty() {
        return Err(ParseError("no token".into()));
    }
    let (who, nick) = match (raw.member, raw.user) {
        (Some(m), _) => (Some(m.user), m.nick),
        (None, u) => (u, None),
    };
    let (user, display_name) = match who {
        Some(u) => {
            snowflake(&u.id)?;
            let name = nick.or(u.global_name).or(u.username);
            (Some(UserRef::new(Platform::DISCORD, u.id)), name)
        }
        None => (None, None),
    };
    // Only the bot's own DM with the user is private; a DM between people (context 2) is read by others.
    let shared = raw.guild_id.is_some() || raw.context.is_some_and(|c| c != BOT_DM);
    let chat = chat(raw.channel, raw.channel_id, shared)?;
    if action != Action::Ping && (user.is_none() || chat.is_none()) {
        return Err(ParseError("no user or channel".into()));
    }
    Ok(Interaction { id, token: Secret::new(raw.token), action, user, display_name, chat, locale: raw.locale })
}

/// The chat: the channel, direct only for a DM channel outside a guild that is the bot's own (or, in old
/// payloads without a channel object, when there is no guild). Anything unclear counts as a group, where
/// secrets are not shown.
fn chat(channel: Option<RawChannel>, channel_id: Option<String>, shared: bool) -> Result<Option<ChatRef>, ParseError> {
    let (id, kind) = match (channel, channel_id) {
        (Some(c), _) => {
            let kind = if c.kind == DM_CHANNEL && !shared { ChatKind::Direct } else { ChatKind::Group };
            (c.id, kind)
        }
        (None, Some(id)) => (id, if shared { ChatKind::Group } else { ChatKind::Direct }),
        (None, None) => return Ok(None),
    };
    snowflake(&id)?;
    Ok(Some(ChatRef::new(Platform::DISCORD, id, kind)))
}

fn action(kind: u8, data: Option<&Value>) -> Action {
    let data = data.unwrap_or(&Value::Null);
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    match kind {
        kind::PING => Action::Ping,
        kind::APPLICATION_COMMAND if data.get("type").and_then(Value::as_u64).unwrap_or(1) == 1 => {
            let mut args = Vec::new();
            options(data.get("options"), &mut args);
            Action::Command { name: text(data, "name").to_ascii_lowercase(), args: args.join(" ") }
        }
        kind::MESSAGE_COMPONENT => Action::Component { custom_id: text(data, "custom_id") },
        kind::MODAL_SUBMIT => Action::ModalSubmit { text: first_input(data).unwrap_or_default() },
        kind::AUTOCOMPLETE => Action::Autocomplete,
        _ => Action::Unsupported,
    }
}

/// Flattens command options: sub-command names, then values, in order.
fn options(given: Option<&Value>, out: &mut Vec<String>) {
    for o in given.and_then(Value::as_array).into_iter().flatten() {
        let kind = o.get("type").and_then(Value::as_u64).unwrap_or(0);
        if kind == u64::from(SUB_COMMAND) || kind == u64::from(SUB_COMMAND_GROUP) {
            out.extend(o.get("name").and_then(Value::as_str).map(str::to_string));
            options(o.get("options"), out);
            continue;
        }
        match o.get("value") {
            // A picked user arrives as their id: the neutral model names users `platform:id`.
            Some(Value::String(s)) if kind == USER_OPTION => out.push(format!("discord:{}", s.trim())),
            Some(Value::String(s)) => out.push(s.trim().to_string()),
            Some(Value::Null) | None => {}
            Some(v) => out.push(v.to_string()),
        }
    }
}

/// The value of the first text input in a modal submission (rows of components).
fn first_input(data: &Value) -> Option<String> {
    let rows = data.get("components")?.as_array()?;
    rows.iter()
        .flat_map(|row| row.get("components").and_then(Value::as_array).into_iter().flatten())
        .find_map(|c| c.get("value").and_then(Value::as_str))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    #[test]
    fn slash_commands_flatten_their_options() {
        let body = json!({ "id": "11", "type": 2, "token": "t", "guild_id": "5", "channel": { "id": "7", "type": 0 },
            "locale": "pt-BR", "guild_locale": "en-US",
            "member": { "user": { "id": "99", "username": "ann" }, "nick": "Ann" },
            "data": { "name": "2FA", "type": 1, "options": [
                { "name": "action", "type": 1, "options": [ { "name": "n", "type": 4, "value": 12 },
                                                            { "name": "s", "type": 3, "value": " x y " } ] } ] } });
        let i = parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(i.action, Action::Command { name: "2fa".into(), args: "action 12 x y".into() });
        assert_eq!(i.user, Some(UserRef::new(Platform::DISCORD, "99")));
        assert_eq!(i.display_name.as_deref(), Some("Ann"));
        assert_eq!(i.locale.as_deref(), Some("pt-BR"), "the user's language, not the guild's");
        assert_eq!(i.chat, Some(ChatRef::new(Platform::DISCORD, "7", ChatKind::Group)));
        let body = json!({ "id": "13", "type": 2, "token": "t", "channel": { "id": "8", "type": 1 },
            "user": { "id": "99" }, "data": { "name": "pay", "type": 1, "options": [
                { "name": "to", "type": 6, "value": "80351110224678912" }, { "name": "cents", "type": 4, "value": 250 } ] } });
        let i = parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(i.action, Action::Command { name: "pay".into(), args: "discord:80351110224678912 250".into() });
    }

    #[test]
    fn dms_are_direct_and_modals_carry_their_text() {
        let body = json!({ "id": "12", "type": 5, "token": "t", "channel": { "id": "8", "type": 1 },
            "user": { "id": "99", "global_name": "Ann B" },
            "data": { "custom_id": "m", "components": [ { "type": 1, "components": [
                { "type": 4, "custom_id": "code", "value": "123456" } ] } ] } });
        let i = parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(i.action, Action::ModalSubmit { text: "123456".into() });
        assert_eq!(i.chat.unwrap().kind, ChatKind::Direct);
        let ping = parse(br#"{"id":"1","type":1}"#).unwrap();
        assert_eq!(ping.action, Action::Ping);
    }

    #[test]
    fn garbage_and_missing_identities_are_refused() {
        assert!(parse(b"{}").is_err());
        assert!(parse(br#"{"id":"x","type":1}"#).is_err());
        assert!(parse(br#"{"id":"1","type":2,"token":"t","data":{"name":"a"}}"#).is_err());
        let no_guild_unknown_channel = json!({ "id": "3", "type": 3, "token": "t", "guild_id": "1",
            "channel": { "id": "4", "type": 1 }, "member": { "user": { "id": "9" } }, "data": { "custom_id": "c" } });
        let i = parse(no_guild_unknown_channel.to_string().as_bytes()).unwrap();
        assert_eq!(i.chat.unwrap().kind, ChatKind::Group, "a DM type inside a guild is not trusted as direct");
    }

    #[test]
    fn only_the_bots_own_dm_is_direct() {
        let in_context = |context: u8| {
            let body = json!({ "id": "12", "type": 2, "token": "t", "channel": { "id": "8", "type": 1 },
                "user": { "id": "99" }, "context": context, "data": { "name": "balance" } });
            parse(body.to_string().as_bytes()).unwrap().chat.unwrap().kind
        };
        assert_eq!(in_context(1), ChatKind::Direct, "the user's DM with the bot");
        assert_eq!(in_context(2), ChatKind::Group, "a DM between two people, with a user-installed app");
        assert_eq!(in_context(0), ChatKind::Group);
    }
}
