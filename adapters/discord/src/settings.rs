//! `[adapters.discord]`: the bot token, the application, how interactions arrive, and the REST proxy.
//!
//! ```toml
//! [adapters.discord]
//! token = { env = "DISCORD_BOT_TOKEN" }           # or { file = "/run/secrets/discord" }
//! application_id = "1234567890123456789"           # General Information → Application ID
//! public_key = "67c6bd76…"                         # General Information → Public Key (64 hex digits)
//! mode = "interactions"                            # or "gateway"
//! listen = "127.0.0.1:8082"                        # interactions mode, behind a TLS-terminating proxy
//! path = "/discord/interactions"
//! freshness = "5m"                                 # older (or future) signed timestamps are refused
//! # proxy = "http://127.0.0.1:3000"                # a REST proxy (e.g. twilight-http-proxy) doing rate limits
//! # guild_id = "1234567890123456789"               # register slash commands in one guild (instant) instead of globally
//! # prefix_commands = false                        # gateway mode: also read `/cmd` typed as text (MESSAGE_CONTENT)
//! # guild_mentions = false                         # gateway mode: guild messages that mention or reply to the bot
//! # member_events = false                          # gateway mode: members joining/leaving (GUILD_MEMBERS)
//! # reactions = false                              # gateway mode: reactions added to messages
//! # shards = 1                                      # gateway mode: connections Discord's events are split over
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use palisade_core::Secret;
use palisade_core::config::Problem;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};

/// Longest freshness window accepted: an interaction token lives 15 minutes, a signed request older than
/// that is useless to anyone but an attacker.
pub const MAX_FRESHNESS: Duration = Duration::from_secs(15 * 60);

/// How interactions reach the bot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Discord posts signed interactions to an HTTPS endpoint (the "Interactions Endpoint URL"); no gateway
    /// connection and no message content — users talk to the bot through slash commands, buttons and modals.
    #[default]
    Interactions,
    /// The bot keeps a gateway (websocket) connection: interactions plus direct messages, and guild messages
    /// when `prefix_commands` is on.
    Gateway,
}

/// A Discord id (snowflake), written in TOML as a string or an integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Snowflake(pub u64);

impl fmt::Display for Snowflake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl<'de> Deserialize<'de> for Snowflake {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Snowflake;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Discord id: digits, as a string or an integer")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Snowflake, E> {
                if v == 0 { Err(E::custom("a Discord id is never 0")) } else { Ok(Snowflake(v)) }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Snowflake, E> {
                u64::try_from(v).map_err(|_| E::custom("a Discord id is positive")).and_then(|v| self.visit_u64(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Snowflake, E> {
                v.trim()
                    .parse::<u64>()
                    .map_err(|_| E::custom(format!("`{v}` is not a Discord id (digits only)")))
                    .and_then(|v| self.visit_u64(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// `[adapters.discord]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordSettings {
    /// The bot token (Bot → Reset Token), from the environment or a file.
    pub token: Secret,
    /// The application id; interaction follow-ups and command registration are addressed with it.
    pub application_id: Snowflake,
    /// The application's Ed25519 public key, 64 hex digits; every interaction request is verified with it.
    pub public_key: String,
    /// Interactions endpoint (default) or gateway.
    #[serde(default)]
    pub mode: Mode,
    /// Where the interactions endpoint listens (interactions mode).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The URL path Discord posts interactions to.
    #[serde(default = "default_path")]
    pub path: String,
    /// A REST proxy base URL (`http://host:port`) all API calls go through instead of discord.com. The proxy
    /// then owns rate limiting (serenity's own limiter is turned off, as serenity requires).
    #[serde(default)]
    pub proxy: Option<String>,
    /// How far a signed timestamp may be from now, either way; older requests are refused as stale.
    #[serde(default = "default_freshness", with = "humantime_serde")]
    pub freshness: Duration,
    /// Register slash commands in this guild only (they appear at once) instead of globally.
    #[serde(default)]
    pub guild_id: Option<Snowflake>,
    /// Gateway mode: also take commands typed as text in guild channels, which needs the privileged
    /// MESSAGE_CONTENT intent (enable it in the developer portal first).
    #[serde(default)]
    pub prefix_commands: bool,
    /// Gateway mode: guild messages that mention the bot or reply to it reach plugins as text, commands or
    /// files (GUILD_MESSAGES; Discord sends the content of such messages without MESSAGE_CONTENT).
    #[serde(default)]
    pub guild_mentions: bool,
    /// Gateway mode: members joining and leaving guilds (the privileged GUILD_MEMBERS intent).
    #[serde(default)]
    pub member_events: bool,
    /// Gateway mode: reactions added to messages in guilds and direct messages.
    #[serde(default)]
    pub reactions: bool,
    /// Gateway mode: how many shards (connections) Discord splits the bot's guilds over; Discord asks for
    /// more once a bot is in 2,500 guilds. With replicas, each shard runs on one replica at a time, and
    /// the shards are spread evenly over the replicas running.
    #[serde(default = "one_shard")]
    pub shards: u32,
}

/// The most shards this adapter opens (Discord's large bots use tens to hundreds).
pub const MAX_SHARDS: u32 = 1024;

fn one_shard() -> u32 {
    1
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8082))
}

fn default_path() -> String {
    "/discord/interactions".into()
}

fn default_freshness() -> Duration {
    Duration::from_secs(5 * 60)
}

/// Parses 64 hex digits into 32 bytes.
pub fn parse_public_key(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

impl DiscordSettings {
    /// The proxy base URL without a trailing slash, if one is set.
    pub fn proxy_base(&self) -> Option<&str> {
        self.proxy.as_deref().map(|p| p.trim_end_matches('/'))
    }

    /// Checks what the types cannot; `at` is the table's key path. Never quotes a secret.
    pub fn validate(&self, at: &str) -> Vec<Problem> {
        let mut problems = Vec::new();
        let token = self.token.expose();
        if token.chars().any(char::is_whitespace) || token.split('.').count() != 3 {
            problems.push(Problem::at(
                format!("{at}.token"),
                "does not look like a bot token (three dot-separated parts, from Bot → Reset Token in the developer portal, without `Bot ` in front); check the variable or file it comes from",
            ));
        }
        match parse_public_key(&self.public_key) {
            Some(bytes) if serenity::interactions_endpoint::Verifier::try_new(bytes).is_ok() => {}
            _ => problems.push(Problem::at(
                format!("{at}.public_key"),
                "must be the application's public key: 64 hex digits from General Information → Public Key",
            )),
        }
        if let Some(proxy) = &self.proxy
            && let Err(p) = palisade_adapter_kit::api_base::check(proxy, &format!("{at}.proxy"))
        {
            problems.push(p);
        }
        if self.freshness.is_zero() || self.freshness > MAX_FRESHNESS {
            problems.push(Problem::at(format!("{at}.freshness"), "must be between 1s and 15m (e.g. \"5m\")"));
        }
        if !self.path.starts_with('/') {
            problems.push(Problem::at(format!("{at}.path"), format!("`{}` must start with `/`", self.path)));
        }
        if self.shards == 0 || self.shards > MAX_SHARDS {
            problems.push(Problem::at(format!("{at}.shards"), format!("must be between 1 and {MAX_SHARDS}")));
        } else if self.shards > 1 && self.mode != Mode::Gateway {
            problems.push(Problem::at(
                format!("{at}.shards"),
                "needs mode = \"gateway\": the interactions endpoint has no shards",
            ));
        }
        let gateway_only = [
            ("prefix_commands", self.prefix_commands, "typed messages"),
            ("guild_mentions", self.guild_mentions, "typed messages"),
            ("member_events", self.member_events, "members joining or leaving"),
            ("reactions", self.reactions, "reactions"),
        ];
        for (key, on, what) in gateway_only {
            if on && self.mode != Mode::Gateway {
                problems.push(Problem::at(
                    format!("{at}.{key}"),
                    format!("needs mode = \"gateway\": the interactions endpoint never receives {what}"),
                ));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use palisade_core::Section;
    use serde_json::json;

    use super::*;

    const TOKEN: &str = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GabcDE.abcdefghijklmnopqrstuvwxyz0123456789AB";
    const KEY: &str = "67c6bd767ca099e79efac9fcce4d2022a63bf7dea780e7f3d813f694c1597089";

    fn parse(v: serde_json::Value) -> Result<DiscordSettings, Vec<Problem>> {
        let s: DiscordSettings = Section::new("adapters.discord", v).unwrap().parse()?;
        let problems = s.validate("adapters.discord");
        if problems.is_empty() { Ok(s) } else { Err(problems) }
    }

    #[test]
    fn defaults_are_an_interactions_endpoint_with_a_five_minute_window() {
        let s = parse(json!({ "token": TOKEN, "application_id": "42", "public_key": KEY })).unwrap();
        assert_eq!(s.mode, Mode::Interactions);
        assert_eq!(s.freshness, Duration::from_secs(300));
        assert_eq!(s.application_id, Snowflake(42));
        assert_eq!(s.proxy_base(), None);
        let s = parse(json!({ "token": TOKEN, "application_id": 42, "public_key": KEY,
                              "proxy": "http://127.0.0.1:9/", "guild_id": "7", "mode": "gateway",
                              "prefix_commands": true, "freshness": "30s" }))
        .unwrap();
        assert_eq!(
            (s.proxy_base(), s.guild_id, s.mode),
            (Some("http://127.0.0.1:9"), Some(Snowflake(7)), Mode::Gateway)
        );
    }

    #[test]
    fn mistakes_are_reported_without_the_secret() {
        let base = json!({ "token": TOKEN, "application_id": "42", "public_key": KEY });
        let with = |k: &str, v: serde_json::Value| {
            let mut b = base.clone();
            b.as_object_mut().unwrap().insert(k.into(), v);
            parse(b).unwrap_err()
        };
        assert_eq!(with("tokne", json!(1))[0].key.as_deref(), Some("adapters.discord.tokne"));
        let e = with("token", json!("not a token"));
        assert!(e[0].message.contains("developer portal") && !e[0].message.contains("not a token"));
        assert!(with("public_key", json!("abc"))[0].message.contains("64 hex"));
        assert!(with("application_id", json!("abc"))[0].message.contains("not a Discord id"));
        assert!(with("freshness", json!("1h"))[0].message.contains("15m"));
        assert!(with("proxy", json!("127.0.0.1:3000"))[0].message.contains("https://"));
        assert!(with("proxy", json!("http://proxy.internal:3000"))[0].message.contains("loopback"));
        assert!(with("prefix_commands", json!(true))[0].message.contains("gateway"));
        for key in ["guild_mentions", "member_events", "reactions"] {
            let problems = with(key, json!(true));
            assert_eq!(problems[0].key.as_deref(), Some(format!("adapters.discord.{key}").as_str()), "{problems:?}");
            assert!(problems[0].message.contains("needs mode = \"gateway\""), "{problems:?}");
        }
        assert!(with("mode", json!("webhook")).iter().any(|p| p.key.as_deref() == Some("adapters.discord.mode")));
    }
}
