//! End to end on loopback over the Events API: signed `message` events from 200 users (each in a DM channel
//! of its own, so Slack's one-message-per-second-per-channel limit, which the adapter keeps, does not set
//! the pace) posted to the
//! real Slack adapter's endpoint (signature checked, deduplicated, journaled on a sled store), the echo
//! plugin, and replies through `chat.postMessage` to the test suite's fake Web API. The bot runs on one
//! current-thread runtime; the client and the fake on their own threads.
//!
//! Measured: events/s (criterion, 64 requests in flight) and CPU per event (the bot's threads only).
//!
//! Run: `cargo bench -p palisade-slack --bench e2e`. Figures are recorded in docs/PERFORMANCE.md.

#![allow(missing_docs)] // criterion_group! generates undocumented items.
#![allow(clippy::unwrap_used)] // a benchmark stops at the first surprise.
#![allow(dead_code)] // the fake is shared with the tests, which use more of it.

#[path = "../tests/it/support/fake.rs"]
mod fake;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::json;

const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const USERS: u64 = 200;
const BATCH: u64 = 1_000;
const IN_FLIGHT: usize = 64;

/// Starts the bot on its own one-core runtime against `api_url`; returns its events address.
fn start_bot(api_url: String, dir: std::path::PathBuf) -> SocketAddr {
    let make = move || {
        let table = json!({ "bot_token": fake::BOT_TOKEN, "api_url": api_url, "rate_tiers": false,
            "mode": "events", "signing_secret": SIGNING_SECRET, "listen": "127.0.0.1:0" });
        let section = palisade::Section::new("adapters.slack", table).unwrap();
        let adapter = palisade_slack::SlackAdapter::from_section(&section).unwrap();
        let listening = adapter.listening();
        (Box::new(adapter) as Box<dyn palisade::Adapter>, Some(listening))
    };
    let plugins: Vec<Arc<dyn palisade::Plugin>> = vec![Arc::new(palisade_echo::Echo)];
    palisade_testkit::bench::spawn_bot(make, plugins, dir, Default::default()).unwrap()
}

fn signed(body: &str) -> (String, String) {
    let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs().to_string();
    let mac = palisade_crypto::hmac_sha256(SIGNING_SECRET.as_bytes(), format!("v0:{ts}:{body}").as_bytes()).unwrap();
    (ts, format!("v0={}", palisade_crypto::hex(&mac)))
}

/// Posts `n` message events over the users' DMs, `IN_FLIGHT` at a time, and waits for every reply.
async fn burst(addr: SocketAddr, fake: &fake::FakeSlack, n: u64, round: u64, replies: &mut u64) -> Duration {
    let client: Client<_, Body> = Client::builder(TokioExecutor::new()).build_http();
    let started = Instant::now();
    let posts = futures::stream::iter(0..n).map(|i| {
        let client = client.clone();
        async move {
            let user = i % USERS;
            let body = json!({ "type": "event_callback", "team_id": fake::TEAM, "api_app_id": "A0FAKE",
                "event_id": format!("Ev{round}x{i}"), "event_time": 1_700_000_001,
                "event": { "type": "message", "user": format!("U0USER{user}"), "text": format!("/echo R{round}N{i}"),
                    "channel": format!("DR{round}N{i}"), "channel_type": "im", "ts": format!("1700000001.{i:06}"),
                    "team": fake::TEAM } })
            .to_string();
            let (ts, sig) = signed(&body);
            let req = axum::http::Request::post(format!("http://{addr}/slack/events"))
                .header("content-type", "application/json")
                .header("x-slack-request-timestamp", ts)
                .header("x-slack-signature", sig)
                .body(Body::from(body))
                .unwrap();
            let res = client.request(req).await.unwrap();
            assert_eq!(res.status(), 200);
        }
    });
    posts.buffer_unordered(IN_FLIGHT).collect::<Vec<()>>().await;
    let target = *replies + n;
    while *replies < target {
        for call in fake.take() {
            if call.is_message() {
                // Each reply goes back to the DM it answers.
                assert_eq!(call.channel(), format!("D{}", call.text()), "a reply went to the wrong channel");
                *replies += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    started.elapsed()
}

fn throughput(c: &mut Criterion) {
    let client = tokio::runtime::Runtime::new().unwrap();
    let fake = client.block_on(fake::FakeSlack::start());
    let dir = tempfile::tempdir().unwrap();
    let addr = start_bot(fake.api_url.clone(), dir.path().to_path_buf());
    let mut replies = 0;
    client.block_on(burst(addr, &fake, 50, 0, &mut replies));
    let (cpu_before, done_before) = (palisade_testkit::bench::bot_cpu(), replies);
    let mut group = c.benchmark_group("slack_events_e2e");
    group.throughput(Throughput::Elements(BATCH));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    let mut round = 0;
    group.bench_function("palisade", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                round += 1;
                total += client.block_on(burst(addr, &fake, BATCH, round, &mut replies));
            }
            total
        });
    });
    group.finish();
    let handled = replies - done_before;
    eprintln!(
        "cpu per event, Palisade over the Events API: {:?} ({handled} events)",
        (palisade_testkit::bench::bot_cpu() - cpu_before) / u32::try_from(handled).unwrap()
    );
}

criterion_group!(benches, throughput);
criterion_main!(benches);
