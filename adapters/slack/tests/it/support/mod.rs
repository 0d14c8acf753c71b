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

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use palisade::config::{Settings, StepUpSettings};
use palisade::{Plugin, Section};
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

/// Starts a bot whose `[adapters.slack]` table is `table`, storing in `store_dir`.
pub async fn start(table: Value, store_dir: &Path, grant_ttl: Duration) -> Running {
    let adapter = SlackAdapter::from_section(&Section::new("adapters.slack", table).unwrap()).unwrap();
    let listening = adapter.listening();
    let events = adapter.mode() == Mode::Events;
    let settings =
        Settings { stepup: StepUpSettings { grant_ttl, ..StepUpSettings::default() }, ..Settings::default() };
    let plugins: Vec<Arc<dyn Plugin>> = vec![Arc::new(palisade_bank::Bank::default())];
    let store = palisade_testkit::sled_store(store_dir).await;
    let running = Running::start(Box::new(adapter), store, plugins, settings).await;
    if events { running.listening(listening).await } else { running }
}

pub use palisade_testkit::totp::secret_from_setup as secret_from;
