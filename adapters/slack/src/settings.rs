//! `[adapters.slack]`: the tokens, Socket Mode or Events API, the Web API address and the events listener.
//!
//! ```toml
//! [adapters.slack]
//! bot_token = { env = "SLACK_BOT_TOKEN" }            # xoxb-…, from "OAuth & Permissions"
//! mode = "socket"                                    # default; or "events"
//! app_token = { env = "SLACK_APP_TOKEN" }            # xapp-… with connections:write (socket mode)
//! signing_secret = { env = "SLACK_SIGNING_SECRET" }  # from "Basic Information" (events mode)
//! api_url = "https://slack.com/api"                  # a Slack-compatible endpoint (GovSlack, a proxy)
//! listen = "127.0.0.1:8083"                          # events mode: behind a TLS-terminating proxy
//! path = "/slack/events"                             # events, slash commands and interactivity
//! rate_tiers = true                                  # pace calls to Slack's per-method rate tiers
//! socket_connections = 2                             # parallel Socket Mode connections
//! ```

use std::net::SocketAddr;

use palisade_core::Secret;
use palisade_core::config::Problem;
use serde::Deserialize;

/// Slack's Web API.
pub const DEFAULT_API_URL: &str = "https://slack.com/api";

/// How traffic from Slack arrives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Over a WebSocket the bot opens with its app token; needs no public address.
    #[default]
    Socket,
    /// Slack posts to an HTTPS endpoint (see `listen` and `path`), authenticated by the signing secret.
    Events,
}

/// `[adapters.slack]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackSettings {
    /// The bot token (`xoxb-…`).
    pub bot_token: Secret,
    /// The app-level token (`xapp-…`, scope `connections:write`); needed in socket mode.
    #[serde(default)]
    pub app_token: Option<Secret>,
    /// The signing secret Slack signs requests with; needed in events mode.
    #[serde(default)]
    pub signing_secret: Option<Secret>,
    /// Socket Mode (default) or the Events API.
    #[serde(default)]
    pub mode: Mode,
    /// The Web API base, up to and including `/api`; default [`DEFAULT_API_URL`].
    #[serde(default)]
    pub api_url: Option<String>,
    /// Events mode: the local address to listen on.
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    /// Events mode: the URL path for events, slash commands and interactivity alike.
    #[serde(default = "default_path")]
    pub path: String,
    /// Pace Web API calls to Slack's per-method tiers with slack-morphism's rate controller (on by default;
    /// a 429's `Retry-After` is honoured either way). Its model is conservative — `chat.postMessage` at one
    /// per second for the whole workspace — so a busy bot may turn it off and rely on `Retry-After` alone.
    #[serde(default = "yes")]
    pub rate_tiers: bool,
    /// Socket mode: how many WebSocket connections to keep open (Slack allows up to 10).
    #[serde(default = "default_connections")]
    pub socket_connections: u32,
}

fn default_path() -> String {
    "/slack/events".into()
}

fn yes() -> bool {
    true
}

fn default_connections() -> u32 {
    2
}

impl SlackSettings {
    /// The Web API base without a trailing slash.
    pub fn api_base(&self) -> &str {
        self.api_url.as_deref().unwrap_or(DEFAULT_API_URL).trim_end_matches('/')
    }

    /// Checks what the types cannot; `at` is the table's key path. Never quotes a secret.
    pub fn validate(&self, at: &str) -> Vec<Problem> {
        let mut problems = Vec::new();
        if !self.bot_token.expose().starts_with("xoxb-") {
            problems.push(Problem::at(
                format!("{at}.bot_token"),
                "does not look like a bot token (`xoxb-…`, under OAuth & Permissions); check the variable or file it comes from",
            ));
        }
        if let Some(problem) = check_api_url(self.api_base(), at) {
            problems.push(problem);
        }
        if !(1..=10).contains(&self.socket_connections) {
            problems.push(Problem::at(format!("{at}.socket_connections"), "must be 1 to 10 (Slack's limit)"));
        }
        if !self.path.starts_with('/') {
            problems.push(Problem::at(format!("{at}.path"), format!("`{}` must start with `/`", self.path)));
        }
        match self.mode {
            Mode::Socket => problems.extend(self.socket_problems(at)),
            Mode::Events => problems.extend(self.events_problems(at)),
        }
        problems
    }

    fn socket_problems(&self, at: &str) -> Option<Problem> {
        match &self.app_token {
            None => Some(Problem::at(
                format!("{at}.app_token"),
                "socket mode needs an app-level token (`xapp-…` with connections:write, under Basic Information); or set mode = \"events\"",
            )),
            Some(t) if !t.expose().starts_with("xapp-") => Some(Problem::at(
                format!("{at}.app_token"),
                "does not look like an app-level token (`xapp-…`); check the variable or file it comes from",
            )),
            Some(_) => None,
        }
    }

    fn events_problems(&self, at: &str) -> Vec<Problem> {
        let mut problems = Vec::new();
        if self.signing_secret.is_none() {
            problems.push(Problem::at(
                format!("{at}.signing_secret"),
                "events mode needs the signing secret (under Basic Information) to authenticate Slack's requests",
            ));
        }
        if self.listen.is_none() {
            problems.push(Problem::at(
                format!("{at}.listen"),
                "events mode needs a local address to listen on, e.g. \"127.0.0.1:8083\", behind a TLS-terminating proxy",
            ));
        }
        problems
    }
}

/// The adapter kit's rule (`https://`, or `http://` to loopback), and plain `http://` only in builds with
/// `loopback-http` (test builds): a production build speaks TLS to Slack whatever is configured.
fn check_api_url(base: &str, at: &str) -> Option<Problem> {
    let key = format!("{at}.api_url");
    if let Err(p) = palisade_adapter_kit::api_base::check(base, &key) {
        return Some(p);
    }
    if base.starts_with("http://") && !crate::connector::plain_http_allowed(base) {
        return Some(Problem::at(key, format!("`{base}` must be an https:// URL (this build speaks TLS only)")));
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use palisade_core::Section;
    use serde_json::json;

    use super::*;

    fn parse(v: serde_json::Value) -> Result<SlackSettings, Vec<Problem>> {
        let s: SlackSettings = Section::new("adapters.slack", v).unwrap().parse()?;
        let problems = s.validate("adapters.slack");
        if problems.is_empty() { Ok(s) } else { Err(problems) }
    }

    const BOT: &str = "xoxb-1-2-abcdefghijklmnop";
    const APP: &str = "xapp-1-A1-2-abcdefghijklmnop";

    #[test]
    fn socket_mode_is_the_default_on_the_public_api() {
        let s = parse(json!({ "bot_token": BOT, "app_token": APP })).unwrap();
        assert_eq!(s.mode, Mode::Socket);
        assert_eq!(s.api_base(), DEFAULT_API_URL);
        assert_eq!(s.path, "/slack/events");
        assert!(s.rate_tiers);
        let s = parse(json!({ "bot_token": BOT, "app_token": APP, "api_url": "https://slack-gov.com/api/" })).unwrap();
        assert_eq!(s.api_base(), "https://slack-gov.com/api");
    }

    #[test]
    fn each_mode_names_what_it_misses_without_quoting_secrets() {
        let e = parse(json!({ "bot_token": BOT })).unwrap_err();
        assert_eq!(e[0].key.as_deref(), Some("adapters.slack.app_token"));
        let e = parse(json!({ "bot_token": BOT, "mode": "events" })).unwrap_err();
        let keys: Vec<_> = e.iter().filter_map(|p| p.key.as_deref()).collect();
        assert_eq!(keys, ["adapters.slack.signing_secret", "adapters.slack.listen"]);
        let e = parse(json!({ "bot_token": "xoxp-user-token", "app_token": "wrong" })).unwrap_err();
        assert!(e.iter().all(|p| !p.message.contains("xoxp-user-token") && !p.message.contains("wrong")));
        assert_eq!(e.len(), 2);
    }

    #[test]
    fn unknown_keys_and_insecure_urls_are_refused() {
        let e = parse(json!({ "bot_token": BOT, "app_token": APP, "signing_secrt": "x" })).unwrap_err();
        assert_eq!(e[0].key.as_deref(), Some("adapters.slack.signing_secrt"));
        let e =
            parse(json!({ "bot_token": BOT, "app_token": APP, "api_url": "http://slack.example/api" })).unwrap_err();
        assert!(e[0].message.contains("https://"));
        let e = parse(json!({ "bot_token": BOT, "app_token": APP, "path": "events" })).unwrap_err();
        assert!(e[0].message.contains("must start with `/`"));
        let e = parse(json!({ "bot_token": BOT, "app_token": APP, "socket_connections": 0 })).unwrap_err();
        assert_eq!(e[0].key.as_deref(), Some("adapters.slack.socket_connections"));
    }
}
