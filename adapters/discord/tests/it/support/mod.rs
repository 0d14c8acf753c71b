//! Shared test fixtures: an Ed25519 key generated here (independently of the adapter), a client that signs
//! interactions with it, the fake REST API, a running bot (real adapter, real dispatcher with the bank plugin
//! and step-up, real sled store), a log capture, and TOTP codes computed independently.

pub mod fake;
pub mod gateway;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ed25519_dalek::{Signer as _, SigningKey};
use palisade::config::{Settings, StepUpSettings};
use palisade::{Plugin, Section};
use palisade_discord::DiscordAdapter;
use palisade_testkit::Running;
use serde_json::{Value, json};

use fake::FakeRest;

pub const TOKEN: &str = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789ABCD";
pub const APP: &str = "111111111111111111";
pub const ANN: &str = "200000000000000001";
pub const BEN: &str = "200000000000000002";
pub const GUILD: &str = "300000000000000001";
pub const TEAM: &str = "400000000000000001";
pub const ANN_DM: &str = "500000000000000001";

pub fn log_text() -> String {
    palisade_testkit::logs::text()
}

/// Asserts that the bot token never reached the logs (and that logging did happen).
pub fn assert_token_never_logged() {
    palisade_testkit::logs::assert_never_logged(&[TOKEN, TOKEN.rsplit('.').next().unwrap()]);
    assert_interaction_tokens_not_logged_at_info();
}

/// Asserts that no interaction token (`itok-…`, `gtok-…` in these tests) appears in a log line at INFO or
/// above. (serenity's `#[instrument]` spans carry them into libraries' DEBUG/TRACE lines; see the crate
/// docs on log levels.)
pub fn assert_interaction_tokens_not_logged_at_info() {
    let text = log_text();
    for line in text.lines().filter(|l| l.contains(" INFO ") || l.contains(" WARN ") || l.contains(" ERROR ")) {
        assert!(!line.contains("itok-") && !line.contains("gtok-"), "an interaction token was logged: {line}");
    }
}

/// The application's signing key, generated in the test; the adapter only ever sees its public half.
pub struct Signer {
    key: SigningKey,
}

impl Signer {
    pub fn generate() -> Self {
        Self { key: SigningKey::generate(&mut rand_core::OsRng) }
    }

    pub fn public_hex(&self) -> String {
        hex(self.key.verifying_key().as_bytes())
    }

    pub fn sign(&self, timestamp: &str, body: &str) -> String {
        hex(&self.key.sign(format!("{timestamp}{body}").as_bytes()).to_bytes())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// Posts interactions to the endpoint.
pub struct Client {
    pub url: String,
    pub signer: Signer,
    http: reqwest::Client,
}

/// The endpoint's answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    pub fn kind(&self) -> u64 {
        self.body["type"].as_u64().unwrap_or(0)
    }
    pub fn content(&self) -> &str {
        self.body["data"]["content"].as_str().unwrap_or_default()
    }
    pub fn ephemeral(&self) -> bool {
        self.body["data"]["flags"].as_u64().is_some_and(|f| f & 64 != 0)
    }
    pub fn button_ids(&self) -> Vec<String> {
        let rows = self.body["data"]["components"].as_array().cloned().unwrap_or_default();
        rows.iter()
            .flat_map(|r| r["components"].as_array().cloned().unwrap_or_default())
            .filter_map(|b| b["custom_id"].as_str().map(str::to_string))
            .collect()
    }
}

impl Client {
    pub fn new(addr: SocketAddr, signer: Signer) -> Self {
        Self { url: format!("http://{addr}/discord/interactions"), signer, http: reqwest::Client::new() }
    }

    /// Posts `body` with the given headers (any may be missing or wrong).
    pub async fn post_raw(&self, body: &str, signature: Option<&str>, timestamp: Option<&str>) -> Answer {
        let mut req = self.http.post(&self.url).header("content-type", "application/json").body(body.to_string());
        if let Some(s) = signature {
            req = req.header("X-Signature-Ed25519", s);
        }
        if let Some(t) = timestamp {
            req = req.header("X-Signature-Timestamp", t);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        Answer { status, body: serde_json::from_str(&text).unwrap_or(Value::String(text)) }
    }

    /// Posts `body` signed now.
    pub async fn post(&self, body: &Value) -> Answer {
        let (body, ts) = (body.to_string(), now_secs().to_string());
        let signature = self.signer.sign(&ts, &body);
        self.post_raw(&body, Some(&signature), Some(&ts)).await
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(600_000_000_000_000_000);

fn next_id() -> String {
    NEXT_ID.fetch_add(1, Ordering::Relaxed).to_string()
}

/// Where an interaction happens: a guild channel or a DM.
#[derive(Clone, Copy)]
pub enum Place<'a> {
    Guild(&'a str),
    Dm(&'a str),
}

fn base(kind: u8, user: &str, place: Place<'_>, data: Value) -> Value {
    let who = json!({ "id": user, "username": format!("user{}", &user[user.len() - 2..]), "discriminator": "0" });
    let mut v = json!({ "id": next_id(), "application_id": APP, "type": kind, "token": format!("itok-{}", next_id()),
                        "version": 1, "data": data });
    match place {
        Place::Guild(channel) => {
            v["guild_id"] = json!(GUILD);
            v["channel"] = json!({ "id": channel, "type": 0 });
            v["channel_id"] = json!(channel);
            v["member"] = json!({ "user": who, "roles": [] });
        }
        Place::Dm(channel) => {
            v["channel"] = json!({ "id": channel, "type": 1 });
            v["channel_id"] = json!(channel);
            v["user"] = who;
        }
    }
    v
}

pub fn ping() -> Value {
    json!({ "id": next_id(), "application_id": APP, "type": 1, "token": "itok-ping", "version": 1 })
}

/// A slash command `/name` with string options `args` (name, value).
pub fn command(user: &str, place: Place<'_>, name: &str, args: &[(&str, &str)]) -> Value {
    let options: Vec<Value> = args.iter().map(|(n, v)| json!({ "name": n, "type": 3, "value": v })).collect();
    base(2, user, place, json!({ "id": "1", "name": name, "type": 1, "options": options }))
}

pub fn button(user: &str, place: Place<'_>, custom_id: &str) -> Value {
    base(3, user, place, json!({ "custom_id": custom_id, "component_type": 2 }))
}

pub fn modal(user: &str, place: Place<'_>, text: &str) -> Value {
    let rows = json!([ { "type": 1, "components": [ { "type": 4, "custom_id": "code", "value": text } ] } ]);
    base(5, user, place, json!({ "custom_id": "palisade-code", "components": rows }))
}

/// The interaction token of a built interaction.
pub fn token_of(interaction: &Value) -> String {
    interaction["token"].as_str().unwrap().to_string()
}

/// The `[adapters.discord]` table for a bot talking to `fake`, with `extra` merged in.
pub fn settings(fake: &FakeRest, public_key: &str, extra: Value) -> Value {
    let mut s = json!({
        "token": TOKEN, "application_id": APP, "public_key": public_key, "proxy": fake.url,
        "listen": "127.0.0.1:0", "freshness": "5m",
    });
    s.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    s
}

/// Options for [`start`].
pub struct Options {
    pub grant_ttl: Duration,
    pub ack_within: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Self { grant_ttl: Duration::from_secs(60), ack_within: None }
    }
}

/// Starts a bot whose `[adapters.discord]` table is `table`, storing in `store_dir`.
pub async fn start(table: Value, store_dir: &Path, options: Options) -> Running {
    let mut adapter = DiscordAdapter::from_section(&Section::new("adapters.discord", table).unwrap()).unwrap();
    if let Some(ack) = options.ack_within {
        adapter = adapter.with_ack_within(ack);
    }
    let listening = adapter.listening();
    let endpoint = adapter.mode() == palisade_discord::Mode::Interactions;
    let settings = Settings {
        stepup: StepUpSettings { grant_ttl: options.grant_ttl, ..StepUpSettings::default() },
        ..Settings::default()
    };
    let plugins: Vec<Arc<dyn Plugin>> = vec![Arc::new(palisade_bank::Bank::default()), Arc::new(palisade_echo::Echo)];
    let store = palisade_testkit::sled_store(store_dir).await;
    let running = Running::start(Box::new(adapter), store, plugins, settings).await;
    if endpoint { running.listening(listening).await } else { running }
}

pub use palisade_testkit::totp::secret_from_setup as secret_from;
