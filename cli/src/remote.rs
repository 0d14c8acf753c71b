//! The `user`, `audit` and `store` subcommands through the running bot's control socket: the command line
//! encodes the parsed subcommand, the bot (the same binary) runs it on its own open store with the same code
//! as offline, and the answer comes back with its output, exit code and document.

use palisade::config::Loaded;
use palisade::control::{self, Answer, Commands, Live, Request};
use serde::{Deserialize, Serialize};

use crate::audit_cmd::{self, AuditAction};
use crate::store_cmd::{self, StoreAction};
use crate::user_cmd::{self, UserAction};

/// A subcommand that can run inside the bot.
#[derive(Debug, Serialize, Deserialize)]
pub enum Remote {
    /// `palisade user …`.
    User(UserAction),
    /// `palisade audit …`.
    Audit(AuditAction),
    /// `palisade store …`.
    Store(StoreAction),
}

/// Runs `remote` through the bot serving `loaded`'s control socket. `Ok(None)` when no bot runs there.
pub async fn through_bot(loaded: &Loaded, remote: &Remote) -> Result<Option<Answer>, String> {
    if !loaded.settings.control.enabled {
        return Ok(None);
    }
    let command = serde_json::to_value(remote).map_err(|e| e.to_string())?;
    control::ask(&loaded.settings.control_socket(), Request::Command { command }).await
}

/// What the bot runs for the command line.
#[derive(Debug, Default)]
pub struct SocketCommands;

#[palisade::async_trait]
impl Commands for SocketCommands {
    async fn run(&self, command: serde_json::Value, live: &Live) -> Answer {
        match serde_json::from_value::<Remote>(command) {
            Err(e) => Answer::fail(2, format!("cannot read the command: {e}")),
            Ok(Remote::User(action)) => user_cmd::act(&live.privacy, action).await,
            Ok(Remote::Audit(action)) => audit_cmd::act(&live.audit, action).await,
            Ok(Remote::Store(action)) => store_cmd::act_live(live, action).await,
        }
    }

    fn name(&self, command: &serde_json::Value) -> String {
        let mut words = Vec::new();
        let mut at = command;
        while words.len() < 2 {
            match at {
                serde_json::Value::Object(map) if map.len() == 1 => {
                    let Some((k, v)) = map.iter().next() else { break };
                    words.push(kebab(k));
                    at = v;
                }
                serde_json::Value::String(s) => {
                    words.push(kebab(s));
                    break;
                }
                _ => break,
            }
        }
        words.join(" ")
    }
}

/// `RotateKey` → `rotate-key`.
fn kebab(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('-');
        }
        out.extend(c.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_named_without_their_arguments() {
        let export =
            Remote::User(UserAction::Export { platform: palisade::Platform::TELEGRAM, id: "12345".into(), out: None });
        let value = serde_json::to_value(&export).unwrap();
        assert_eq!(SocketCommands.name(&value), "user export");
        let value = serde_json::to_value(Remote::Store(StoreAction::AcceptLoss)).unwrap();
        assert_eq!(SocketCommands.name(&value), "store accept-loss");
    }
}
