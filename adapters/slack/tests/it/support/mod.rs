//! Shared test fixtures: the fake Slack, a running bot (real adapter, real dispatcher with the bank plugin and
//! step-up, real sled store), a driver that delivers payloads over Socket Mode or signed to the Events API
//! listener, a log capture, request signatures computed by Python's `hmac`, and TOTP codes computed
//! independently of the adapter.

pub mod driver;
pub mod fake;
pub mod signed;

// Not every test binary uses every helper.
#[allow(unused_imports)]
pub use driver::{Driver, dm, user_id};
#[allow(unused_imports)]
pub use signed::{Post, now, post, python_sign};

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use palisade::config::StepUpSettings;
use palisade::stepup::totp::Code;
use palisade::stepup::{StepUp, TwoFactor};
use palisade::store::{RecordStore, SharedStore, SledBackend};
use palisade::{Adapter, AdapterError, Dispatcher, Platform, Plugin, Section};
use palisade_slack::{Mode, SlackAdapter};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use fake::{APP_TOKEN, BOT_TOKEN, FakeSlack};

pub const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

/// Every log line of this test binary, at every level, from every target.
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

/// The captured log text.
pub fn log_text() -> String {
    String::from_utf8_lossy(&logs().lock().unwrap()).into_owned()
}

/// Asserts that no token or the signing secret was ever logged, at any level, by anyone.
pub fn assert_secrets_never_logged() {
    let text = log_text();
    if let Ok(path) = std::env::var("SLACK_TEST_LOG_DUMP") {
        std::fs::write(path, &text).unwrap();
    }
    assert!(text.contains("palisade"), "the capture saw no logs at all");
    for secret in [BOT_TOKEN, APP_TOKEN, SIGNING_SECRET, "fakeBotTokenValue", "fakeAppTokenValue"] {
        assert!(!text.contains(secret), "a secret appeared in the logs");
    }
}

/// Asserts `code` appears in no log line of this crate or the core. (slack-morphism's own TRACE output of
/// raw Socket Mode frames is excluded: see the crate's notes on logging.)
pub fn assert_never_logged_by_palisade(code: &str) {
    let leaked: Vec<String> = log_text()
        .lines()
        .filter(|l| l.contains(code) && !l.contains("slack_morphism") && !l.contains("tungstenite"))
        .map(str::to_string)
        .collect();
    assert!(leaked.is_empty(), "a code was logged: {leaked:?}");
}

/// The `[adapters.slack]` table for `mode` against `fake`, with `extra` merged in.
pub fn settings(fake: &FakeSlack, mode: Mode, extra: Value) -> Value {
    let mut s = json!({
        "bot_token": BOT_TOKEN,
        "api_url": fake.api_url,
        "rate_tiers": false,
        "socket_connections": 1,
    });
    match mode {
        Mode::Socket => s["app_token"] = json!(APP_TOKEN),
        Mode::Events => {
            s["mode"] = json!("events");
            s["signing_secret"] = json!(SIGNING_SECRET);
            s["listen"] = json!("127.0.0.1:0");
        }
    }
    s.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    s
}

pub async fn sled_store(dir: &Path) -> SharedStore {
    let key = palisade::crypto::Key::from_bytes(&[7u8; 32]).unwrap();
    let backend = Arc::new(SledBackend::open(dir).unwrap());
    Arc::new(RecordStore::open(backend, &key, palisade::clock::TokioClock::shared()).await.unwrap())
}

/// A running bot: the Slack adapter feeding a real dispatcher.
pub struct Running {
    adapter_stop: CancellationToken,
    adapter: JoinHandle<Result<(), AdapterError>>,
    dispatch_stop: CancellationToken,
    dispatcher: JoinHandle<()>,
    /// The events listener's address (events mode).
    pub listening: Option<SocketAddr>,
}

/// Starts a bot whose `[adapters.slack]` table is `table`, storing in `store_dir`.
pub async fn start(table: Value, store_dir: &Path, grant_ttl: Duration) -> Running {
    logs();
    let adapter = SlackAdapter::from_section(&Section::new("adapters.slack", table).unwrap()).unwrap();
    let mut listening = adapter.listening();
    let store = sled_store(store_dir).await;
    let settings = StepUpSettings { grant_ttl, ..StepUpSettings::default() };
    let clock = palisade::clock::TokioClock::shared();
    let audit = palisade::audit::Audit::new(store.clone(), clock.clone());
    let stepup = StepUp::new(store.clone(), audit, settings, clock);
    let plugins: Vec<Arc<dyn Plugin>> =
        vec![Arc::new(palisade_bank::Bank::default()), Arc::new(TwoFactor::new(stepup.clone()))];
    let dispatcher = Dispatcher::builder(plugins, store)
        .step_up(stepup)
        .outbox(Platform::SLACK, adapter.outbox(), adapter.capabilities())
        .build()
        .unwrap();
    let sink = dispatcher.sink();
    let dispatch_stop = CancellationToken::new();
    let dispatcher = tokio::spawn(dispatcher.run(dispatch_stop.clone()));
    let adapter_stop = CancellationToken::new();
    let events = adapter.mode() == Mode::Events;
    let adapter = tokio::spawn(Box::new(adapter).run(sink, adapter_stop.clone()));
    let mut running = Running { adapter_stop, adapter, dispatch_stop, dispatcher, listening: None };
    if events {
        let addr = tokio::time::timeout(Duration::from_secs(20), listening.wait_for(Option::is_some)).await;
        running.listening = *addr.expect("the events listener did not start").unwrap();
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
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    Code::standard(secret, 0).unwrap().at(now + steps_ahead * 30).to_string()
}

/// The base32 secret shown in the `/2fa setup` text.
pub fn secret_from(text: &str) -> Vec<u8> {
    base32(text.split("by hand: ").nth(1).unwrap().split(')').next().unwrap())
}
