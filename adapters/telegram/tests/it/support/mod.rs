//! Shared test fixtures: the fake Bot API, a running bot (real adapter, real dispatcher with the bank and notes
//! plugins and step-up, real sled store), a log capture, and TOTP codes computed independently.

pub mod fake;

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
use palisade_telegram::{Mode, TelegramAdapter};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use fake::{FakeApi, TOKEN};

/// Every log line of this test binary, from every thread and task (`log` records included).
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

/// Asserts that neither the token nor its secret half was ever logged, and that logging did happen.
pub fn assert_token_never_logged() {
    let text = log_text();
    if let Ok(path) = std::env::var("TELEGRAM_TEST_LOG_DUMP") {
        std::fs::write(path, &text).unwrap();
    }
    assert!(!text.is_empty(), "the capture saw no logs at all");
    let secret = TOKEN.split_once(':').unwrap().1;
    assert!(!text.contains(TOKEN) && !text.contains(secret), "the bot token appeared in the logs");
}

/// Settings for a polling bot against `fake`, with `extra` merged in.
pub fn settings(fake: &FakeApi, extra: Value) -> Value {
    let mut s = json!({
        "token": TOKEN,
        "api_url": fake.url,
        "poll_timeout": "1s",
        "limits": { "per_chat_per_second": 100, "per_chat_per_minute": 1000,
                    "per_group_per_minute": 1000, "overall_per_second": 1000 },
    });
    s.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    s
}

pub async fn sled_store(dir: &Path) -> SharedStore {
    let key = palisade::crypto::Key::from_bytes(&[7u8; 32]).unwrap();
    let backend = Arc::new(SledBackend::open(dir).unwrap());
    Arc::new(RecordStore::open(backend, &key, palisade::clock::TokioClock::shared()).await.unwrap())
}

/// A running bot: the Telegram adapter feeding a real dispatcher.
pub struct Running {
    adapter_stop: CancellationToken,
    adapter: JoinHandle<Result<(), AdapterError>>,
    dispatch_stop: CancellationToken,
    dispatcher: JoinHandle<()>,
    /// The webhook's address (webhook mode).
    pub listening: Option<SocketAddr>,
}

/// Starts a bot whose `[adapters.telegram]` table is `table`, storing in `store_dir`.
pub async fn start(table: Value, store_dir: &Path, grant_ttl: Duration) -> Running {
    logs();
    let adapter = TelegramAdapter::from_section(&Section::new("adapters.telegram", table).unwrap()).unwrap();
    let mut listening = adapter.listening();
    let store = sled_store(store_dir).await;
    let settings = StepUpSettings { grant_ttl, ..StepUpSettings::default() };
    let clock = palisade::clock::TokioClock::shared();
    let audit = palisade::audit::Audit::new(store.clone(), clock.clone());
    let stepup = StepUp::new(store.clone(), audit, settings, clock);
    let plugins: Vec<Arc<dyn Plugin>> = vec![
        Arc::new(palisade_notes::Notes::default()),
        Arc::new(palisade_bank::Bank::default()),
        Arc::new(TwoFactor::new(stepup.clone())),
    ];
    let dispatcher = Dispatcher::builder(plugins, store)
        .step_up(stepup)
        .outbox(Platform::TELEGRAM, adapter.outbox(), adapter.capabilities())
        .build()
        .unwrap();
    let sink = dispatcher.sink();
    let dispatch_stop = CancellationToken::new();
    let dispatcher = tokio::spawn(dispatcher.run(dispatch_stop.clone()));
    let adapter_stop = CancellationToken::new();
    let webhook = adapter.mode() == Mode::Webhook;
    let adapter = tokio::spawn(Box::new(adapter).run(sink, adapter_stop.clone()));
    let mut running = Running { adapter_stop, adapter, dispatch_stop, dispatcher, listening: None };
    if webhook {
        let addr = tokio::time::timeout(Duration::from_secs(20), listening.wait_for(Option::is_some)).await;
        running.listening = *addr.expect("the webhook did not start listening").unwrap();
    }
    running
}

impl Running {
    /// Stops the adapter (confirming the polling offset), then the dispatcher; returns the adapter's result.
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
