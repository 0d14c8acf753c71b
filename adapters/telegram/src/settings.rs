//! `[adapters.telegram]`: the token, polling or webhook mode, the Bot API address and send limits.
//!
//! ```toml
//! [adapters.telegram]
//! token = { env = "TELEGRAM_BOT_TOKEN" }     # or { file = "/run/secrets/telegram" }
//! mode = "polling"                            # or "webhook"
//! api_url = "https://api.telegram.org"        # a self-hosted Bot API server, or a test double
//! bot_username = "my_bot"                     # optional; asked with getMe at start otherwise
//! poll_timeout = "25s"                        # long-poll wait (polling mode)
//!
//! [adapters.telegram.webhook]                 # required in webhook mode
//! listen = "127.0.0.1:8081"                   # behind a TLS-terminating reverse proxy
//! path = "/telegram"
//! public_url = "https://bot.example.com/telegram"
//! secret_token = { env = "TELEGRAM_WEBHOOK_SECRET" }
//! set_webhook_on_start = true
//!
//! [adapters.telegram.limits]                  # Telegram's send limits; the defaults follow its FAQ
//! per_chat_per_second = 1
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use palisade_core::Secret;
use palisade_core::config::Problem;
use serde::Deserialize;

/// The public Bot API.
pub const DEFAULT_API_URL: &str = "https://api.telegram.org";

/// How updates arrive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The bot asks for updates with `getUpdates` (long polling); needs no public address.
    #[default]
    Polling,
    /// Telegram posts updates to an HTTPS endpoint (see [`WebhookSettings`]).
    Webhook,
}

/// `[adapters.telegram]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramSettings {
    /// The bot token from @BotFather, from the environment or a file.
    pub token: Secret,
    /// Polling (default) or webhook.
    #[serde(default)]
    pub mode: Mode,
    /// The Bot API base URL, without the `/bot<token>` part.
    #[serde(default = "default_api_url")]
    pub api_url: String,
    /// The bot's @username (without `@`), so `/cmd@username` is recognised; asked with getMe when absent.
    #[serde(default)]
    pub bot_username: Option<String>,
    /// How long one `getUpdates` call waits for news (polling mode), at most 50 s.
    #[serde(default = "default_poll_timeout", with = "humantime_serde")]
    pub poll_timeout: Duration,
    /// The webhook listener (webhook mode).
    #[serde(default)]
    pub webhook: Option<WebhookSettings>,
    /// Send limits (messages per chat and overall).
    #[serde(default)]
    pub limits: SendLimits,
}

/// `[adapters.telegram.webhook]`. TLS is terminated in front of the listener (a reverse proxy such as nginx or
/// Caddy forwarding to `listen`); Telegram only posts to HTTPS URLs on ports 443, 80, 88 or 8443.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// The local address to listen on, e.g. `127.0.0.1:8081`.
    pub listen: SocketAddr,
    /// The URL path Telegram posts to.
    #[serde(default = "default_path")]
    pub path: String,
    /// The full public URL Telegram should post to (given to setWebhook).
    #[serde(default)]
    pub public_url: Option<String>,
    /// The secret Telegram sends in `X-Telegram-Bot-Api-Secret-Token`: 1–256 of `A-Z a-z 0-9 _ -`.
    pub secret_token: Secret,
    /// Call setWebhook with `public_url` and the secret at start.
    #[serde(default)]
    pub set_webhook_on_start: bool,
}

/// `[adapters.telegram.limits]`: how fast the bot may send, so Telegram does not answer 429. The runtime's
/// send scheduler keeps them with exact timers; `0` turns a limit off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SendLimits {
    /// Messages to one chat per second.
    pub per_chat_per_second: u32,
    /// Messages to one chat per minute.
    pub per_chat_per_minute: u32,
    /// Messages to one group or channel per minute.
    pub per_group_per_minute: u32,
    /// Messages per second over all chats.
    pub overall_per_second: u32,
}

impl Default for SendLimits {
    fn default() -> Self {
        Self { per_chat_per_second: 1, per_chat_per_minute: 20, per_group_per_minute: 20, overall_per_second: 30 }
    }
}

fn default_api_url() -> String {
    DEFAULT_API_URL.into()
}

fn default_poll_timeout() -> Duration {
    Duration::from_secs(25)
}

fn default_path() -> String {
    "/telegram".into()
}

impl TelegramSettings {
    /// The API URL without a trailing slash (teloxide appends `/bot<token>/<Method>`).
    pub fn api_base(&self) -> &str {
        self.api_url.trim_end_matches('/')
    }

    /// The configured username without a leading `@`.
    pub fn username(&self) -> Option<&str> {
        self.bot_username.as_deref().map(|u| u.trim_start_matches('@')).filter(|u| !u.is_empty())
    }

    /// Checks what the types cannot; `at` is the table's key path. Never quotes a secret.
    pub fn validate(&self, at: &str) -> Vec<Problem> {
        let mut problems = Vec::new();
        let token = self.token.expose();
        let looks_like_token = token.split_once(':').is_some_and(|(id, rest)| {
            !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) && !rest.is_empty() && !rest.contains('/')
        });
        if !looks_like_token {
            problems.push(Problem::at(
                format!("{at}.token"),
                "does not look like a bot token (`123456789:AA…` as @BotFather gives it); check the variable or file it comes from",
            ));
        }
        if let Err(p) = palisade_adapter_kit::api_base::check(&self.api_url, &format!("{at}.api_url")) {
            problems.push(p);
        }
        if self.poll_timeout.as_secs() > 50 {
            problems.push(Problem::at(format!("{at}.poll_timeout"), "must be at most 50s (Telegram's limit)"));
        }
        problems.append(&mut self.limits.validate(&format!("{at}.limits")));
        match (&self.webhook, self.mode) {
            (Some(w), _) => problems.append(&mut w.validate(&format!("{at}.webhook"))),
            (None, Mode::Webhook) => problems.push(Problem::at(
                format!("{at}.webhook"),
                "mode = \"webhook\" needs an [adapters.telegram.webhook] table with `listen` and `secret_token`",
            )),
            (None, Mode::Polling) => {}
        }
        problems
    }
}

impl WebhookSettings {
    fn validate(&self, at: &str) -> Vec<Problem> {
        let mut problems = Vec::new();
        if !self.path.starts_with('/') {
            problems.push(Problem::at(format!("{at}.path"), format!("`{}` must start with `/`", self.path)));
        }
        let secret = self.secret_token.expose();
        if secret.len() > 256 || !secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            problems.push(Problem::at(
                format!("{at}.secret_token"),
                "Telegram accepts 1 to 256 characters of A-Z, a-z, 0-9, `_` and `-`; generate one with `openssl rand -hex 32`",
            ));
        }
        match &self.public_url {
            Some(url) if !url.starts_with("https://") => problems.push(Problem::at(
                format!("{at}.public_url"),
                format!("`{url}` must be an https:// URL (Telegram posts webhooks over TLS only)"),
            )),
            None if self.set_webhook_on_start => problems.push(Problem::at(
                format!("{at}.public_url"),
                "set_webhook_on_start needs the public https:// URL Telegram should post to",
            )),
            _ => {}
        }
        problems
    }
}

impl SendLimits {
    fn validate(&self, at: &str) -> Vec<Problem> {
        let all = [
            ("per_chat_per_second", self.per_chat_per_second, 1_000),
            ("per_chat_per_minute", self.per_chat_per_minute, 60_000),
            ("per_group_per_minute", self.per_group_per_minute, 60_000),
            ("overall_per_second", self.overall_per_second, 100_000),
        ];
        all.iter()
            .filter(|(_, v, max)| v > max)
            .map(|(k, v, max)| {
                Problem::at(format!("{at}.{k}"), format!("at most {max} (it is {v}); 0 turns the limit off"))
            })
            .collect()
    }

    /// The limits as the runtime's send scheduler applies them.
    pub fn policy(&self) -> palisade_core::SendPolicy {
        use std::time::Duration;
        let rate =
            |count: u32, secs: u64| (count > 0).then(|| palisade_core::SendRate::new(count, Duration::from_secs(secs)));
        palisade_core::SendPolicy {
            per_chat: [rate(self.per_chat_per_second, 1), rate(self.per_chat_per_minute, 60)]
                .into_iter()
                .flatten()
                .collect(),
            per_group: rate(self.per_group_per_minute, 60).into_iter().collect(),
            overall: rate(self.overall_per_second, 1).into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use palisade_core::Section;
    use serde_json::json;

    use super::*;

    fn parse(v: serde_json::Value) -> Result<TelegramSettings, Vec<Problem>> {
        let s: TelegramSettings = Section::new("adapters.telegram", v).unwrap().parse()?;
        let problems = s.validate("adapters.telegram");
        if problems.is_empty() { Ok(s) } else { Err(problems) }
    }

    const TOKEN: &str = "123456:ABCdef_ghi-JKL";

    #[test]
    fn defaults_are_polling_on_the_public_api() {
        let s = parse(json!({ "token": TOKEN, "api_url": "http://127.0.0.1:9/" })).unwrap();
        assert_eq!(s.mode, Mode::Polling);
        assert_eq!(s.api_base(), "http://127.0.0.1:9");
        assert_eq!(s.limits, SendLimits::default());
        let s = parse(json!({ "token": TOKEN, "bot_username": "@my_bot" })).unwrap();
        assert_eq!(s.api_base(), DEFAULT_API_URL);
        assert_eq!(s.username(), Some("my_bot"));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_reported_without_the_secret() {
        let e = parse(json!({ "token": TOKEN, "tokne": 1 })).unwrap_err();
        assert_eq!(e[0].key.as_deref(), Some("adapters.telegram.tokne"));
        let e = parse(json!({ "token": "not-a-token" })).unwrap_err();
        assert!(e[0].message.contains("BotFather") && !e[0].message.contains("not-a-token"));
        let e = parse(json!({ "token": TOKEN, "mode": "webhook" })).unwrap_err();
        assert!(e[0].message.contains("secret_token"), "{e:?}");
        let e = parse(json!({ "token": TOKEN, "limits": { "overall_per_second": 4_294_967_295_u64 } })).unwrap_err();
        assert_eq!(e[0].key.as_deref(), Some("adapters.telegram.limits.overall_per_second"));
        assert!(e[0].message.contains("at most 100000"), "{e:?}");
        // 0 turns a limit off.
        let off = parse(json!({ "token": TOKEN, "limits": { "per_chat_per_second": 0 } })).unwrap();
        assert_eq!(off.limits.policy().per_chat.len(), 1, "only the per-minute limit is left");
    }

    #[test]
    fn webhook_settings_are_checked() {
        let hook = |extra: serde_json::Value| {
            let mut w = json!({ "listen": "127.0.0.1:0", "secret_token": "s3cret_-" });
            w.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            parse(json!({ "token": TOKEN, "mode": "webhook", "webhook": w }))
        };
        assert!(hook(json!({})).is_ok());
        assert!(hook(json!({ "set_webhook_on_start": true })).unwrap_err()[0].message.contains("public"));
        assert!(hook(json!({ "path": "hook" })).unwrap_err()[0].message.contains("must start with `/`"));
        let e = hook(json!({ "secret_token": "has spaces" })).unwrap_err();
        assert!(e[0].message.contains("openssl") && !e[0].message.contains("has spaces"));
        assert!(hook(json!({ "listen": "nowhere" })).is_err());
    }
}
