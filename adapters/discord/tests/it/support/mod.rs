//! Shared test fixtures: an Ed25519 key generated here (independently of the adapter), a client that signs
//! interactions with it, the fake REST API, a running bot (real adapter, real dispatcher with the bank plugin
//! and step-up, real sled store), a log capture, and TOTP codes computed independently.

pub mod fake;
pub mod gateway;

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ed25519_dalek::{Signer as _, SigningKey};
use palisade::config::StepUpSettings;
use palisade::stepup::totp::Code;
use palisade::stepup::{StepUp, TwoFactor};
use palisade::store::{RecordStore, SharedStore, SledBackend};
use palisade::{Adapter, AdapterError, Dispatcher, Platform, Plugin, Section};
use palisade_discord::DiscordAdapter;
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use fake::FakeRest;

pub const TOKEN: &str = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789ABCD";
pub const APP: &str = "111111111111111111";
pub const ANN: &str = "200000000000000001";
pub const BEN: &str = "200000000000000002";
pub const GUILD: &str = "300000000000000001";
pub const TEAM: &str = "400000000000000001";
pub const ANN_DM: &str = "500000000000000001";

/// Every log line of this test binary, from every thread and task.
pub fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Capture(sink.clone()))
            .try_init()
            .unwrap();
        buffer
    })
    .clone()
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn log_text() -> String {
    String::from_utf8_lossy(&logs().lock().unwrap()).into_owned()
}

/// Writes the captured logs to `$DISCORD_TEST_LOG_DUMP`, when set (for debugging a failure).
pub fn dump_logs() {
    if let Ok(path) = std::env::var("DISCORD_TEST_LOG_DUMP") {
        std::fs::write(path, log_text()).unwrap();
    }
}

/// Asserts that the bot token never reached the logs (and that logging did happen).
pub fn assert_token_never_logged() {
    dump_logs();
    let text = log_text();
    assert!(text.contains("palisade"), "the capture saw no logs at all");
    let secret = TOKEN.rsplit('.').next().unwrap();
    assert!(!text.contains(TOKEN) && !text.contains(secret), "the bot token appeared in the logs");
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

pub async fn sled_store(dir: &Path) -> SharedStore {
    let key = palisade::crypto::Key::from_bytes(&[7u8; 32]).unwrap();
    let backend = Arc::new(SledBackend::open(dir).unwrap());
    Arc::new(RecordStore::open(backend, &key, palisade::clock::TokioClock::shared()).await.unwrap())
}

/// A running bot: the Discord adapter feeding a real dispatcher.
pub struct Running {
    adapter_stop: CancellationToken,
    adapter: JoinHandle<Result<(), AdapterError>>,
    dispatch_stop: CancellationToken,
    dispatcher: JoinHandle<()>,
    pub listening: Option<SocketAddr>,
}

/// Options for [`start`].
pub struct Options {
    pub grant_ttl: Duration,
    pub ack_within: Option<Duration>,
    pub commands: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self { grant_ttl: Duration::from_secs(60), ack_within: None, commands: true }
    }
}

/// Starts a bot whose `[adapters.discord]` table is `table`, storing in `store_dir`.
pub async fn start(table: Value, store_dir: &Path, options: Options) -> Running {
    logs();
    let mut adapter = DiscordAdapter::from_section(&Section::new("adapters.discord", table).unwrap()).unwrap();
    if let Some(ack) = options.ack_within {
        adapter = adapter.with_ack_within(ack);
    }
    let mut listening = adapter.listening();
    let store = sled_store(store_dir).await;
    let settings = StepUpSettings { grant_ttl: options.grant_ttl, ..StepUpSettings::default() };
    let clock = palisade::clock::TokioClock::shared();
    let audit = palisade::audit::Audit::new(store.clone(), clock.clone());
    let stepup = StepUp::new(store.clone(), audit, settings, clock);
    let plugins: Vec<Arc<dyn Plugin>> = vec![
        Arc::new(palisade_bank::Bank::default()),
        Arc::new(palisade_echo::Echo),
        Arc::new(TwoFactor::new(stepup.clone())),
    ];
    if options.commands {
        let commands: Vec<palisade::Command> = plugins.iter().flat_map(|p| p.commands()).collect();
        adapter.register_commands(&commands);
    }
    let dispatcher = Dispatcher::builder(plugins, store)
        .step_up(stepup)
        .outbox(Platform::DISCORD, adapter.outbox(), adapter.capabilities())
        .build()
        .unwrap();
    let sink = dispatcher.sink();
    let dispatch_stop = CancellationToken::new();
    let dispatcher = tokio::spawn(dispatcher.run(dispatch_stop.clone()));
    let adapter_stop = CancellationToken::new();
    let endpoint = adapter.mode() == palisade_discord::Mode::Interactions;
    let adapter = tokio::spawn(Box::new(adapter).run(sink, adapter_stop.clone()));
    let mut running = Running { adapter_stop, adapter, dispatch_stop, dispatcher, listening: None };
    if endpoint {
        let addr = tokio::time::timeout(Duration::from_secs(20), listening.wait_for(Option::is_some)).await;
        running.listening = *addr.expect("the endpoint did not start listening").unwrap();
    }
    running
}

impl Running {
    /// Stops the adapter, then the dispatcher; returns the adapter's result.
    pub async fn stop(self) -> Result<(), AdapterError> {
        self.adapter_stop.cancel();
        let result = self.adapter.await.unwrap();
        self.dispatch_stop.cancel();
        self.dispatcher.await.unwrap();
        result
    }

    /// Waits (at most 20 s) for the adapter to end by itself, then stops the dispatcher.
    pub async fn ended(self) -> Result<(), AdapterError> {
        let result = tokio::time::timeout(Duration::from_secs(20), self.adapter).await;
        self.dispatch_stop.cancel();
        self.dispatcher.await.unwrap();
        result.expect("the adapter did not end").unwrap()
    }
}

/// RFC 4648 base32 without padding, decoded independently of totp-rs.
pub fn base32(text: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut acc, mut out) = (0u32, 0u64, Vec::new());
    for c in text.bytes() {
        acc = (acc << 5) | alphabet.iter().position(|a| *a == c).unwrap() as u64;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// The TOTP code `steps_ahead` 30-second steps from now.
pub fn code(secret: &[u8], steps_ahead: u64) -> String {
    Code::standard(secret, 0).unwrap().at(now_secs() + steps_ahead * 30).to_string()
}

/// The base32 secret shown in the `/2fa setup` text.
pub fn secret_from(text: &str) -> Vec<u8> {
    base32(text.split("by hand: ").nth(1).unwrap().split(')').next().unwrap())
}
