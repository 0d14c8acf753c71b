//! End to end on loopback: a fake Bot API, and side by side in one run, Palisade (the real Telegram adapter
//! in polling mode, the dispatcher with its journal on a sled store, the echo plugin) and a bare teloxide
//! echo bot, each answering `/echo …` updates spread over 200 chats. Both bots run on one current-thread
//! runtime (one core); the fake runs on its own threads.
//!
//! Measured: updates/s (criterion, send limits off), CPU per update (the bot's threads only), the same with
//! the bots' bursts taken in turn (steadier ratios on a machine whose speed changes), and reply
//! latency percentiles on an idle bot with the stock limits (each chat's first message, then one more from
//! each), also for Palisade without its journal. Every reply is checked (its chat and text).
//! Memory: each bot again in a process of its own (this benchmark's binary, started as a child), its
//! resident memory idle and at its peak over a burst of 20 000 updates, and its CPU per update there.
//!
//! Run: `cargo bench -p palisade-telegram --bench e2e`. Figures are recorded in docs/PERFORMANCE.md. To
//! profile one bot alone: `PALISADE_E2E_PROFILE=Palisade` (see [`profile`]).

#![allow(missing_docs)] // criterion_group! generates undocumented items.
#![allow(clippy::unwrap_used)] // a benchmark stops at the first surprise.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use criterion::{Criterion, Throughput, criterion_group};
use serde_json::{Value, json};
use tokio::sync::Notify;

const TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
const CHATS: i64 = 200;
const BATCH: u64 = 2_000;
/// Updates in the burst the memory figures are taken over.
const BURST: u64 = 20_000;
/// Set in a child started by [`memory`]: which bot it runs.
const CHILD_BOT: &str = "PALISADE_E2E_CHILD_BOT";
/// Set in a child: the fake's URL.
const CHILD_URL: &str = "PALISADE_E2E_CHILD_URL";
/// Set in a child: the directory for its store.
const CHILD_DIR: &str = "PALISADE_E2E_CHILD_DIR";
/// Set (to `Palisade`, `PalisadeNoJournal` or `Teloxide`): the benchmark runs only that bot, for a profiler
/// (see [`profile`]).
const PROFILE_BOT: &str = "PALISADE_E2E_PROFILE";
/// With [`PROFILE_BOT`]: how many bursts of 10 000 updates (20 unless set).
const PROFILE_ROUNDS: &str = "PALISADE_E2E_ROUNDS";

/// The fake Bot API: a queue of updates served by long polls, and a count of the replies, each checked.
#[derive(Default)]
struct Fake {
    updates: Mutex<VecDeque<Value>>,
    next_update: AtomicI64,
    news: Notify,
    replies: AtomicU64,
    wrong: AtomicU64,
    replied: Notify,
    /// When each pending `/echo` was queued, by its text (for latency).
    queued_at: Mutex<HashMap<String, Instant>>,
    latencies: Mutex<Vec<Duration>>,
}

impl Fake {
    fn push(&self, chat: i64, text: &str) {
        let id = self.next_update.fetch_add(1, Ordering::SeqCst);
        let update = json!({ "update_id": id, "message": {
            "message_id": id, "date": 1_700_000_000, "text": text,
            "from": { "id": chat, "is_bot": false, "first_name": "User" },
            "chat": { "id": chat, "type": "private", "first_name": "User" },
        } });
        self.queued_at.lock().unwrap().insert(text.trim_start_matches("/echo ").to_string(), Instant::now());
        self.updates.lock().unwrap().push_back(update);
        self.news.notify_waiters();
    }

    async fn get_updates(&self, params: &Value) -> Value {
        let offset = params["offset"].as_i64().unwrap_or(0);
        let wait = Duration::from_secs(params["timeout"].as_u64().unwrap_or(0));
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.news.notified();
            {
                let mut pending = self.updates.lock().unwrap();
                while pending.front().is_some_and(|u| u["update_id"].as_i64().unwrap_or(0) < offset) {
                    pending.pop_front();
                }
                if !pending.is_empty() || tokio::time::Instant::now() >= deadline {
                    return Value::Array(pending.iter().take(100).cloned().collect());
                }
            }
            let _ = tokio::time::timeout_at(deadline, notified).await;
        }
    }

    fn send_message(&self, params: &Value) -> Value {
        let chat = params["chat_id"].as_i64().unwrap_or_default();
        let text = params["text"].as_str().unwrap_or_default();
        // Texts are `c<chat>-<n>`: a reply must go to the chat it names.
        let expected = text.strip_prefix('c').and_then(|t| t.split('-').next()).and_then(|c| c.parse().ok());
        if expected != Some(chat) {
            self.wrong.fetch_add(1, Ordering::SeqCst);
        }
        if let Some(at) = self.queued_at.lock().unwrap().remove(text) {
            self.latencies.lock().unwrap().push(at.elapsed());
        }
        self.replies.fetch_add(1, Ordering::SeqCst);
        self.replied.notify_waiters();
        json!({ "message_id": 1, "date": 1_700_000_000, "text": text,
            "chat": { "id": chat, "type": "private", "first_name": "User" },
            "from": { "id": 999, "is_bot": true, "first_name": "Bot", "username": "bench_bot" } })
    }

    async fn until_replies(&self, n: u64) {
        loop {
            let replied = self.replied.notified();
            if self.replies.load(Ordering::SeqCst) >= n {
                return;
            }
            let _ = tokio::time::timeout(Duration::from_millis(50), replied).await;
        }
    }
}

async fn handle(State(fake): State<Arc<Fake>>, Path((_bot, method)): Path<(String, String)>, body: String) -> String {
    let params: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let result = match method.to_ascii_lowercase().as_str() {
        "getupdates" => fake.get_updates(&params).await,
        "sendmessage" => fake.send_message(&params),
        "getme" => json!({ "id": 999, "is_bot": true, "first_name": "Bot", "username": "bench_bot",
            "can_join_groups": true, "can_read_all_group_messages": false, "supports_inline_queries": false,
            "has_main_web_app": false }),
        _ => json!(true),
    };
    json!({ "ok": true, "result": result }).to_string()
}

/// Starts the fake on its own runtime (two threads); returns its base URL.
fn start_fake(fake: Arc<Fake>) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fake-api")
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let app = axum::Router::new().route("/{bot}/{method}", axum::routing::post(handle)).with_state(fake);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    format!("http://{}/", rx.recv().unwrap())
}

/// Which bot.
#[derive(Clone, Copy, Debug)]
enum Which {
    Palisade,
    /// Palisade with `[dispatch] journal = false`: no record of accepted events, no delivery ids kept.
    PalisadeNoJournal,
    Teloxide,
}

/// Runs `bot` against a fresh fake on its own thread; returns the fake.
fn start_bot(bot: Which, limits_off: bool) -> (Arc<Fake>, tempfile::TempDir) {
    let fake = Arc::new(Fake { next_update: AtomicI64::new(1), ..Fake::default() });
    let url = start_fake(fake.clone());
    let dir = tempfile::tempdir().unwrap();
    run_bot(bot, url, limits_off, dir.path().to_path_buf());
    (fake, dir)
}

/// Starts `bot` on its own thread against the fake at `url`, its store (if any) in `dir`.
fn run_bot(bot: Which, url: String, limits_off: bool, dir: std::path::PathBuf) {
    let journal = match bot {
        Which::Palisade => true,
        Which::PalisadeNoJournal => false,
        Which::Teloxide => {
            std::thread::Builder::new()
                .name(format!("{}-main", palisade_testkit::bench::BOT_THREADS))
                .spawn(move || palisade_testkit::bench::bot_runtime().block_on(run_teloxide(&url)))
                .unwrap();
            return;
        }
    };
    let make = move || {
        let mut table = json!({ "token": TOKEN, "api_url": url, "poll_timeout": "10s" });
        if limits_off {
            table["limits"] = json!({ "per_chat_per_second": 0, "per_chat_per_minute": 0,
                "per_group_per_minute": 0, "overall_per_second": 0 });
        }
        let section = palisade::Section::new("adapters.telegram", table).unwrap();
        let adapter = palisade_telegram::TelegramAdapter::from_section(&section).unwrap();
        (Box::new(adapter) as Box<dyn palisade::Adapter>, None)
    };
    let plugins: Vec<Arc<dyn palisade::Plugin>> = vec![Arc::new(palisade_echo::Echo)];
    let settings = palisade::config::DispatchSettings { journal, ..Default::default() };
    palisade_testkit::bench::spawn_bot(make, plugins, dir, settings);
}

async fn run_teloxide(url: &str) {
    use teloxide::prelude::*;
    let bot = Bot::new(TOKEN).set_api_url(url.parse().unwrap());
    let handler = Update::filter_message().endpoint(|bot: Bot, msg: Message| async move {
        let text = msg.text().unwrap_or_default().trim_start_matches("/echo ").to_string();
        bot.send_message(msg.chat.id, text).await?;
        Ok::<(), teloxide::RequestError>(())
    });
    teloxide::dispatching::Dispatcher::builder(bot, handler).build().dispatch().await;
}

/// Pushes `n` updates over the chats and waits for all replies; returns the time taken.
async fn burst(fake: &Fake, n: u64, round: u64) -> Duration {
    let before = fake.replies.load(Ordering::SeqCst);
    let started = Instant::now();
    for i in 0..n {
        let chat = 1 + (i as i64 % CHATS);
        fake.push(chat, &format!("/echo c{chat}-{round}x{i}"));
    }
    fake.until_replies(before + n).await;
    started.elapsed()
}

fn throughput(c: &mut Criterion) {
    let client = tokio::runtime::Runtime::new().unwrap();
    let mut group = c.benchmark_group("telegram_e2e");
    group.throughput(Throughput::Elements(BATCH));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    let mut cpu: Vec<(Which, Duration, u64)> = Vec::new();
    for bot in [Which::Teloxide, Which::Palisade, Which::PalisadeNoJournal] {
        let (fake, _dir) = start_bot(bot, true);
        client.block_on(burst(&fake, 50, 0)); // started and warm
        let (cpu_before, done_before) = (palisade_testkit::bench::bot_cpu(), fake.replies.load(Ordering::SeqCst));
        let mut round = 1;
        group.bench_function(format!("{bot:?}").to_lowercase(), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    round += 1;
                    total += client.block_on(burst(&fake, BATCH, round));
                }
                total
            });
        });
        let handled = fake.replies.load(Ordering::SeqCst) - done_before;
        assert_eq!(fake.wrong.load(Ordering::SeqCst), 0, "{bot:?} sent a reply to the wrong chat");
        cpu.push((
            bot,
            (palisade_testkit::bench::bot_cpu() - cpu_before) / u32::try_from(handled.max(1)).unwrap_or(u32::MAX),
            handled,
        ));
        // The bot keeps running on its thread; the next one gets its own fake and threads named alike, so
        // CPU is read before it starts.
        std::mem::forget(fake);
    }
    group.finish();
    for (bot, per_update, handled) in cpu {
        eprintln!("cpu per update, {bot:?}: {per_update:?} ({handled} updates)");
    }
}

/// The three bots again, send limits off, their bursts taken in turn (the order rotating each round), so a
/// change in the machine's speed during the run reaches all three alike: the ratios from this are steadier
/// than those from the criterion groups above, each measured in a window of its own.
fn interleaved(_c: &mut Criterion) {
    const ROUNDS: u64 = 20;
    // Long enough (a third of a second) that a round is not at the mercy of one scheduling hiccup.
    const ROUND: u64 = 10_000;
    let client = tokio::runtime::Runtime::new().unwrap();
    let bots = [Which::Teloxide, Which::Palisade, Which::PalisadeNoJournal];
    let running: Vec<_> = bots.iter().map(|&bot| start_bot(bot, true)).collect();
    for (fake, _) in &running {
        client.block_on(burst(fake, 50, 0)); // started and warm
    }
    // Per bot: each round's updates/s, and the CPU and updates over all rounds.
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); bots.len()];
    let mut cpu = vec![Duration::ZERO; bots.len()];
    for round in 0..ROUNDS {
        for turn in 0..bots.len() {
            let i = (turn + usize::try_from(round).unwrap()) % bots.len();
            let fake = &running[i].0;
            // The other bots wait in their long polls meanwhile: the CPU of threads named alike is this one's.
            let before = palisade_testkit::bench::bot_cpu();
            let took = client.block_on(burst(fake, ROUND, 1_000 + round));
            cpu[i] += palisade_testkit::bench::bot_cpu() - before;
            rates[i].push(ROUND as f64 / took.as_secs_f64());
            assert_eq!(fake.wrong.load(Ordering::SeqCst), 0, "{:?} sent a reply to the wrong chat", bots[i]);
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let per_update = |i: usize| cpu[i] / u32::try_from(ROUND * ROUNDS).unwrap();
    for (i, bot) in bots.iter().enumerate().skip(1) {
        // The ratio of each round's rates, so a slow round is compared with the same round's teloxide.
        let ratios: Vec<f64> = rates[i].iter().zip(&rates[0]).map(|(p, t)| p / t).collect();
        eprintln!(
            "interleaved, {bot:?}: {:.0} updates/s (teloxide {:.0}), {:.2}x teloxide's rate (median of {ROUNDS} \
             rounds, {:.2}x - {:.2}x); CPU per update {:?} (teloxide {:?}), {:.2}x",
            median(rates[i].clone()),
            median(rates[0].clone()),
            median(ratios.clone()),
            ratios.iter().copied().fold(f64::INFINITY, f64::min),
            ratios.iter().copied().fold(0.0, f64::max),
            per_update(i),
            per_update(0),
            per_update(i).as_secs_f64() / per_update(0).as_secs_f64(),
        );
    }
    for (fake, _) in running {
        std::mem::forget(fake); // the bots keep running on their threads
    }
}

fn latency(_c: &mut Criterion) {
    let client = tokio::runtime::Runtime::new().unwrap();
    for bot in [Which::Teloxide, Which::Palisade, Which::PalisadeNoJournal] {
        // Stock limits: what an operator runs.
        let (fake, _dir) = start_bot(bot, false);
        client.block_on(burst(&fake, 1, 0));
        // First each chat's first message (to Palisade a new person: a data key is made), then one more from
        // each (a person it knows).
        for pass in ["first message", "known person"] {
            fake.latencies.lock().unwrap().clear();
            for i in 0..CHATS as u64 {
                let chat = 2 + (i as i64 % CHATS);
                client.block_on(async {
                    let before = fake.replies.load(Ordering::SeqCst);
                    fake.push(chat, &format!("/echo c{chat}-lat{i}"));
                    fake.until_replies(before + 1).await;
                    // Idle between messages, as a bot mostly is, and under the stock overall limit (30/s),
                    // so what is measured is the bot's own delay, not pacing.
                    tokio::time::sleep(Duration::from_millis(40)).await;
                });
            }
            let mut l = fake.latencies.lock().unwrap().clone();
            l.sort();
            let pct = |p: usize| l[(l.len() * p / 100).min(l.len() - 1)];
            eprintln!(
                "reply latency, {bot:?}, idle, stock limits, {pass}: p50 {:?}, p99 {:?} ({} replies)",
                pct(50),
                pct(99),
                l.len()
            );
        }
        std::mem::forget(fake);
    }
}

/// Each bot in a process of its own (this binary again, as a child) against a fake here, send limits off: its
/// resident memory when started and idle, and at its peak over a burst of [`BURST`] updates.
fn memory(_c: &mut Criterion) {
    let client = tokio::runtime::Runtime::new().unwrap();
    for bot in [Which::Teloxide, Which::Palisade, Which::PalisadeNoJournal] {
        let fake = Arc::new(Fake { next_update: AtomicI64::new(1), ..Fake::default() });
        let url = start_fake(fake.clone());
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .env(CHILD_BOT, format!("{bot:?}"))
            .env(CHILD_URL, &url)
            .env(CHILD_DIR, dir.path())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        client.block_on(burst(&fake, 1, 0));
        std::thread::sleep(Duration::from_millis(500));
        let (idle, _) = palisade_testkit::bench::process_memory(pid).unwrap_or_default();
        let cpu_before = palisade_testkit::bench::process_cpu(pid);
        let took = client.block_on(burst(&fake, BURST, 1));
        let cpu = palisade_testkit::bench::process_cpu(pid) - cpu_before;
        let (_, peak) = palisade_testkit::bench::process_memory(pid).unwrap_or_default();
        assert_eq!(fake.wrong.load(Ordering::SeqCst), 0, "{bot:?} sent a reply to the wrong chat");
        child.kill().unwrap();
        child.wait().unwrap();
        eprintln!(
            "memory, {bot:?}, own process: idle RSS {:.1} MB, peak RSS {:.1} MB over {BURST} updates \
             ({:.0} updates/s, CPU per update {:?}, all its threads)",
            idle as f64 / 1024.0,
            peak as f64 / 1024.0,
            BURST as f64 / took.as_secs_f64(),
            cpu / u32::try_from(BURST).unwrap(),
        );
    }
}

/// One bot alone in this process, send limits off, its bursts of 10 000 updates one after another; prints its
/// rate and CPU per update. For a profiler, whose figures would otherwise mix the bots: `perf record`, or
/// `valgrind --tool=callgrind --separate-threads=yes` for instruction counts that do not depend on the
/// machine's speed (the bot's own thread is the file of `bot-main`; under valgrind every reply waits longer
/// than [`palisade::journal::RECORD_REPLIES_AFTER`], so the journal then records them all).
fn profile(bot: &str) {
    let which =
        [Which::Palisade, Which::PalisadeNoJournal, Which::Teloxide].into_iter().find(|w| format!("{w:?}") == bot);
    let Some(which) = which else { panic!("{PROFILE_BOT}={bot}: say Palisade, PalisadeNoJournal or Teloxide") };
    let rounds: u32 = std::env::var(PROFILE_ROUNDS).ok().and_then(|r| r.parse().ok()).unwrap_or(20);
    let (fake, _dir) = start_bot(which, true);
    let client = tokio::runtime::Runtime::new().unwrap();
    client.block_on(burst(&fake, 50, 0)); // started and warm
    let (cpu, started) = (palisade_testkit::bench::bot_cpu(), Instant::now());
    for round in 1..=rounds {
        client.block_on(burst(&fake, 10_000, u64::from(round)));
    }
    let updates = rounds * 10_000;
    assert_eq!(fake.wrong.load(Ordering::SeqCst), 0, "{which:?} sent a reply to the wrong chat");
    eprintln!(
        "profile, {which:?}: {:.0} updates/s, CPU per update {:?} ({updates} updates)",
        f64::from(updates) / started.elapsed().as_secs_f64(),
        (palisade_testkit::bench::bot_cpu() - cpu) / updates.max(1)
    );
}

criterion_group!(benches, throughput, interleaved, latency, memory);

fn main() {
    // A child [`memory`] started: one bot against the parent's fake, until the parent kills it.
    if let (Ok(bot), Ok(url), Ok(dir)) = (std::env::var(CHILD_BOT), std::env::var(CHILD_URL), std::env::var(CHILD_DIR))
    {
        let bot = [Which::Teloxide, Which::PalisadeNoJournal].into_iter().find(|w| format!("{w:?}") == bot);
        let bot = bot.unwrap_or(Which::Palisade);
        run_bot(bot, url, true, dir.into());
        loop {
            std::thread::park();
        }
    }
    if let Ok(bot) = std::env::var(PROFILE_BOT) {
        profile(&bot);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
