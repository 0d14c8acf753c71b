//! Slash commands from the plugins' command metadata, registered in one bulk overwrite — globally, or in one
//! guild when `guild_id` is set (guild commands appear at once; global ones may take a while).
//!
//! Each argument becomes an option of its declared kind: string, integer, number, boolean or user (Discord
//! requires required options first, so an argument after an optional one is optional too). The adapter adds `/answer <text>`, through which a user answers a flow's
//! question when the bot cannot read typed messages.

use palisade_core::Command;
use palisade_core::plugin::ArgKind;
use serenity::all::{CommandOptionType, GuildId};
use serenity::builder::{CreateCommand, CreateCommandOption};
use serenity::model::application::Command as DiscordCommand;

use crate::intake::ANSWER_COMMAND;
use crate::rest::{Rest, RestError};
use crate::settings::Snowflake;

/// Discord's limits on names and descriptions.
const NAME_MAX: usize = 32;
const DESCRIPTION_MAX: usize = 100;

fn description(text: &str) -> String {
    let text = text.replace('`', "");
    let d: String = text.chars().take(DESCRIPTION_MAX).collect();
    if d.trim().is_empty() { "—".into() } else { d }
}

/// True for a name Discord accepts as a command or option name.
pub fn valid_name(name: &str) -> bool {
    let n = name.chars().count();
    (1..=NAME_MAX).contains(&n)
        && name.chars().all(|c| c == '-' || c == '_' || c.is_alphanumeric())
        && name.to_lowercase() == name
}

/// The Discord form of one command, or `None` when its name is not valid there.
pub fn to_discord(command: &Command) -> Option<CreateCommand> {
    if !valid_name(command.name) {
        return None;
    }
    let mut required_so_far = true;
    let mut options = Vec::new();
    for arg in &command.args {
        if !valid_name(arg.name) {
            return None;
        }
        required_so_far &= arg.required;
        let what = if arg.rest { format!("{} (free text)", arg.name) } else { arg.name.to_string() };
        let kind = match arg.kind {
            ArgKind::Integer => CommandOptionType::Integer,
            ArgKind::Number => CommandOptionType::Number,
            ArgKind::Boolean => CommandOptionType::Boolean,
            ArgKind::User => CommandOptionType::User,
            _ => CommandOptionType::String,
        };
        options.push(CreateCommandOption::new(kind, arg.name, description(&what)).required(required_so_far));
    }
    Some(CreateCommand::new(command.name).description(description(command.help)).set_options(options))
}

/// The commands to register: every valid one given, plus `/answer` unless a plugin took that name.
pub fn discord_commands(commands: &[Command]) -> Vec<CreateCommand> {
    let mut out = Vec::new();
    for c in commands {
        match to_discord(c) {
            Some(d) => out.push(d),
            None => tracing::warn!(command = c.name, "not a valid Discord command name; not registered"),
        }
    }
    if !commands.iter().any(|c| c.name == ANSWER_COMMAND) {
        let text = CreateCommandOption::new(CommandOptionType::String, "text", "Your answer").required(true);
        out.push(CreateCommand::new(ANSWER_COMMAND).description("Answer the bot's question").add_option(text));
    }
    out
}

/// Replaces the application's commands (in `guild`, or globally) with `commands`.
pub async fn register(
    rest: &Rest,
    guild: Option<Snowflake>,
    commands: &[Command],
) -> Result<Vec<DiscordCommand>, RestError> {
    let list = discord_commands(commands);
    let http = rest.http().as_ref();
    match guild {
        Some(g) => {
            rest.call("register guild commands", false, || GuildId::new(g.0).set_commands(http, list.clone())).await
        }
        None => rest.call("register commands", false, || DiscordCommand::set_global_commands(http, list.clone())).await,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use palisade_core::Arg;

    use super::*;

    #[test]
    fn commands_become_slash_commands_with_string_options() {
        let c = Command::new("2fa", "Two-factor: `/2fa setup`").arg(Arg::optional("action")).arg(Arg::required("x"));
        let json = serde_json::to_value(to_discord(&c).unwrap()).unwrap();
        assert_eq!(json["name"], "2fa");
        assert_eq!(json["description"], "Two-factor: /2fa setup");
        assert_eq!(json["options"][0]["type"], 3);
        assert_eq!(json["options"][0]["required"], false);
        assert_eq!(json["options"][1]["required"], false, "nothing required after an optional option");
        assert!(to_discord(&Command::new("Bad Name", "x")).is_none());
        let all = discord_commands(&[c]);
        assert_eq!(serde_json::to_value(&all[1]).unwrap()["name"], "answer");
    }

    #[test]
    fn typed_arguments_become_typed_options() {
        let c = Command::new("pay", "Pay someone")
            .arg(Arg::typed::<palisade_core::UserRef>("to"))
            .arg(Arg::typed::<u32>("cents"))
            .arg(Arg::typed::<f64>("rate"))
            .arg(Arg::typed_optional::<bool>("urgent"));
        let json = serde_json::to_value(to_discord(&c).unwrap()).unwrap();
        let types: Vec<u64> = json["options"].as_array().unwrap().iter().map(|o| o["type"].as_u64().unwrap()).collect();
        // Discord's documented option types: USER 6, INTEGER 4, NUMBER 10, BOOLEAN 5.
        assert_eq!(types, [6, 4, 10, 5]);
    }
}
