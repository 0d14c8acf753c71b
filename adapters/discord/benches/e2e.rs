//! End to end on loopback over the interactions endpoint: `/echo` slash commands from 200 users, signed
//! with an Ed25519 key made here (the adapter knows only its public half), posted to the real Discord
//! adapter's endpoint (signature and freshness checked, deduplicated, journaled on a sled store), answered
//! by the echo plugin in the interaction's HTTP response. The bot runs on one current-thread runtime; the
//! client and the fake REST API (registering commands at start) on their own threads.
//!
//! Measured: interactions/s (criterion, 64 requests in flight) and CPU per interaction (the bot's threads).
//!
//! Run: `cargo bench -p palisade-discord --bench e2e`. Figures are recorded in docs/PERFORMANCE.md.

#![allow(missing_docs)] // criterion_group! generates undocumented items.
#![allow(clippy::unwrap_used)] // a benchmark stops at the first surprise.
#![allow(dead_code)] // the fake is shared with the tests, which use more of it.

#[path = "../tests/it/support/fake.rs"]
mod fake;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::{Signer as _, SigningKey};
use futures::StreamExt;
use serde_json::{Value, json};

const TOKEN: &str = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789ABCD";
const APP: &str = "111111111111111111";
const USERS: u64 = 200;
const BATCH: u64 = 1_000;
const IN_FLIGHT: usize = 64;

static NEXT_ID: AtomicU64 = AtomicU64::new(600_000_000_000_000_000);

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Starts the bot on its own one-core runtime; returns its endpoint's address.
fn start_bot(proxy: String, public_key: String, dir: std::path::PathBuf) -> SocketAddr {
    let make = move || {
        let table = json!({ "token": TOKEN, "application_id": APP, "public_key": public_key,
            "proxy": proxy, "listen": "127.0.0.1:0", "freshness": "5m" });
        let section = palisade::Section::new("adapters.discord", table).unwrap();
        let adapter = palisade_discord::DiscordAdapter::from_section(&section).unwrap();
        let listening = adapter.listening();
        (Box::new(adapter) as Box<dyn palisade::Adapter>, Some(listening))
    };
    let plugins: Vec<Arc<dyn palisade::Plugin>> = vec![Arc::new(palisade_echo::Echo)];
    palisade_testkit::bench::spawn_bot(make, plugins, dir, Default::default()).unwrap()
}

fn echo(user: u64, text: &str) -> Value {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let user_id = (200_000_000_000_000_000 + user).to_string();
    let channel = (500_000_000_000_000_000 + user).to_string();
    json!({ "id": id.to_string(), "application_id": APP, "type": 2, "token": format!("itok-{id}"), "version": 1,
        "data": { "id": "1", "name": "echo", "type": 1, "options": [ { "name": "text", "type": 3, "value": text } ] },
        "channel": { "id": channel, "type": 1 }, "channel_id": channel,
        "user": { "id": user_id, "username": "user", "discriminator": "0" } })
}

/// Posts `n` slash commands over the users, `IN_FLIGHT` at a time; each answer is checked (in the HTTP
/// response, or, when the bot deferred it, in its follow-up through the fake REST API).
async fn burst(
    client: &reqwest::Client,
    fake: &fake::FakeRest,
    addr: SocketAddr,
    key: &SigningKey,
    n: u64,
    round: u64,
) -> Duration {
    let started = Instant::now();
    let posts = futures::stream::iter(0..n).map(|i| async move {
        let text = format!("r{round}n{i}");
        let body = echo(i % USERS, &text).to_string();
        let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs().to_string();
        let signature = hex(&key.sign(format!("{ts}{body}").as_bytes()).to_bytes());
        let res = client
            .post(format!("http://{addr}/discord/interactions"))
            .header("content-type", "application/json")
            .header("x-signature-ed25519", signature)
            .header("x-signature-timestamp", ts)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let answer: Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
        if answer["type"] == 5 {
            return Some(text);
        }
        assert_eq!(answer["data"]["content"], text, "{answer}");
        None
    });
    let mut deferred: Vec<String> = posts.buffer_unordered(IN_FLIGHT).filter_map(|d| async { d }).collect().await;
    while !deferred.is_empty() {
        for call in fake.take() {
            deferred.retain(|t| t != call.content());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    started.elapsed()
}

fn throughput(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fake = rt.block_on(fake::FakeRest::start());
    let key = SigningKey::generate(&mut rand_core::OsRng);
    let dir = tempfile::tempdir().unwrap();
    let addr = start_bot(fake.url.clone(), hex(key.verifying_key().as_bytes()), dir.path().to_path_buf());
    let client = reqwest::Client::new();
    rt.block_on(burst(&client, &fake, addr, &key, 50, 0));
    let cpu_before = palisade_testkit::bench::bot_cpu();
    let mut handled = 0;
    let mut group = c.benchmark_group("discord_interactions_e2e");
    group.throughput(Throughput::Elements(BATCH));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    let mut round = 0;
    group.bench_function("palisade", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                round += 1;
                total += rt.block_on(burst(&client, &fake, addr, &key, BATCH, round));
                handled += BATCH;
            }
            total
        });
    });
    group.finish();
    let per = (palisade_testkit::bench::bot_cpu() - cpu_before) / u32::try_from(handled).unwrap();
    eprintln!("cpu per interaction, Palisade over the interactions endpoint: {per:?} ({handled} interactions)");
}

criterion_group!(benches, throughput);
criterion_main!(benches);
