//! Shared test fixtures: the fake Bot API, and a running bot (real adapter, the whole runtime stack with the
//! bank and notes plugins, a real sled store). Logs, stores and TOTP codes come from the test kit.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use palisade::config::{Settings, StepUpSettings};
use palisade::{Plugin, Section};
use palisade_telegram::{Mode, TelegramAdapter};
use palisade_testkit::Running;
use serde_json::{Value, json};

use palisade_testkit::telegram::{FakeApi, TOKEN};

pub use palisade_testkit::totp::secret_from_setup as secret_from;

/// Asserts that neither the token nor its secret half was ever logged, and that logging did happen.
pub fn assert_token_never_logged() {
    let secret = TOKEN.split_once(':').unwrap().1;
    palisade_testkit::logs::assert_never_logged(&[TOKEN, secret]);
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

/// Starts a bot whose `[adapters.telegram]` table is `table`, storing in `store_dir`.
pub async fn start(table: Value, store_dir: &Path, grant_ttl: Duration) -> Running {
    let adapter = TelegramAdapter::from_section(&Section::new("adapters.telegram", table).unwrap()).unwrap();
    let listening = adapter.listening();
    let webhook = adapter.mode() == Mode::Webhook;
    let plugins: Vec<Arc<dyn Plugin>> =
        vec![Arc::new(palisade_notes::Notes::default()), Arc::new(palisade_bank::Bank::default())];
    let settings =
        Settings { stepup: StepUpSettings { grant_ttl, ..StepUpSettings::default() }, ..Settings::default() };
    let store = palisade_testkit::sled_store(store_dir).await;
    let running = Running::start(Box::new(adapter), store, plugins, settings).await;
    if webhook { running.listening(listening).await } else { running }
}

/// Posts `update` to the webhook at `addr` + `path` with `secret` (if any); returns the HTTP status.
pub async fn post(addr: SocketAddr, path: &str, secret: Option<&str>, update: &Value) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = update.to_string();
    let header = secret.map(|s| format!("X-Telegram-Bot-Api-Secret-Token: {s}\r\n")).unwrap_or_default();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{header}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer.split_whitespace().nth(1).unwrap().parse().unwrap()
}
