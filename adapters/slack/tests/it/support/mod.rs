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

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use palisade::config::{Settings, StepUpSettings};
use palisade::{AdapterError, Plugin, Section};
use palisade_slack::{Mode, SlackAdapter};
use palisade_testkit::Running;
use serde_json::{Value, json};

use fake::{APP_TOKEN, BOT_TOKEN, FakeSlack};

pub const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

/// Asserts that no token or the signing secret was ever logged, at any level, by anyone.
pub fn assert_secrets_never_logged() {
    palisade_testkit::logs::assert_never_logged(&[
        BOT_TOKEN,
        APP_TOKEN,
        SIGNING_SECRET,
        "fakeBotTokenValue",
        "fakeAppTokenValue",
    ]);
}

/// Asserts `code` appears in no log line of this crate or the core. (slack-morphism's own TRACE output of
/// raw Socket Mode frames is excluded: see the crate's notes on logging.)
pub fn assert_never_logged_by_palisade(code: &str) {
    let leaked: Vec<String> = palisade_testkit::logs::mentions(code)
        .into_iter()
        .filter(|l| !l.contains("slack_morphism") && !l.contains("tungstenite"))
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

/// A running bot with its events listener's address (events mode).
pub struct Bot {
    pub running: Running,
    pub listening: Option<SocketAddr>,
}

/// Starts a bot whose `[adapters.slack]` table is `table`, storing in `store_dir`.
pub async fn start(table: Value, store_dir: &Path, grant_ttl: Duration) -> Bot {
    let adapter = SlackAdapter::from_section(&Section::new("adapters.slack", table).unwrap()).unwrap();
    let mut listening = adapter.listening();
    let events = adapter.mode() == Mode::Events;
    let settings =
        Settings { stepup: StepUpSettings { grant_ttl, ..StepUpSettings::default() }, ..Settings::default() };
    let plugins: Vec<Arc<dyn Plugin>> = vec![Arc::new(palisade_bank::Bank::default())];
    let store = palisade_testkit::sled_store(store_dir).await;
    let running = Running::start(Box::new(adapter), store, plugins, settings).await;
    let mut bot = Bot { running, listening: None };
    if events {
        let addr = tokio::time::timeout(Duration::from_secs(20), listening.wait_for(Option::is_some)).await;
        bot.listening = *addr.expect("the events listener did not start").unwrap();
    }
    bot
}

impl Bot {
    /// Stops the adapter, then the dispatcher; returns the adapter's result.
    pub async fn stop(self) -> Result<(), AdapterError> {
        self.running.stop().await
    }

    /// Waits (at most 20 s) for the adapter to end by itself, then stops the dispatcher.
    pub async fn ended(self) -> Result<(), AdapterError> {
        self.running.ended().await
    }
}

/// The TOTP code `steps_ahead` 30-second steps from now.
pub fn code(secret: &[u8], steps_ahead: u64) -> String {
    palisade_testkit::totp::code_now(secret, steps_ahead as i64)
}

pub use palisade_testkit::totp::secret_from_setup as secret_from;
