//! Three `palisade run` processes — three replicas of one bot — on one Redis Cluster, fed Telegram webhook
//! traffic the way a load balancer spreads it: every update answered once and in order within its
//! conversation, a flow started on one replica finished on another, a transfer suspended on one replica
//! resumed by a code sent to another and that code refused when replayed to a third; then one replica is
//! killed (SIGKILL) mid-run, and nothing it acknowledged is lost.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use palisade_testkit::redis::RedisCluster;
use palisade_testkit::telegram::{BOT_USERNAME, Call, FakeApi, TOKEN};
use serde_json::Value;

const SECRET: &str = "replicas-webhook-secret-0123456789";
const ANN: u64 = 4242;

struct Replica {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_address() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// Starts replica `r<n>` with its webhook on a free port, and waits until it listens.
fn start(dir: &Path, n: usize, cluster: &RedisCluster, fake: &FakeApi) -> Replica {
    let addr = free_address();
    let nodes: Vec<String> = cluster.urls().iter().map(|u| format!("\"{u}\"")).collect();
    let data = dir.join(format!("r{n}"));
    let config = format!(
        r#"[dispatch]
replica = "r{n}"
[store]
backend = "redis"
path = "{data}"
master_key_file = "{key}"
create_key_file = true
[store.redis]
nodes = [{nodes}]
[logging]
level = "info"
[adapters.telegram]
token = {{ env = "PALISADE_TEST_TELEGRAM_TOKEN" }}
mode = "webhook"
api_url = "{api}"
bot_username = "{BOT_USERNAME}"
[adapters.telegram.webhook]
listen = "{addr}"
path = "/hook"
secret_token = {{ env = "PALISADE_TEST_TELEGRAM_SECRET" }}
[adapters.telegram.limits]
per_chat_per_second = 100
per_chat_per_minute = 10000
per_group_per_minute = 10000
overall_per_second = 10000
[plugins.echo]
[plugins.bank]
"#,
        data = data.display(),
        key = dir.join("master.key").display(),
        nodes = nodes.join(", "),
        api = fake.url,
    );
    let path = dir.join(format!("r{n}.toml"));
    std::fs::write(&path, config).unwrap();
    let log = dir.join(format!("r{n}.log"));
    let child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["run", "--config", path.to_str().unwrap()])
        .env("PALISADE_TEST_TELEGRAM_TOKEN", TOKEN)
        .env("PALISADE_TEST_TELEGRAM_SECRET", SECRET)
        .env_remove("PALISADE_CONFIG")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut replica = Replica { child, addr, log };
    let started = Instant::now();
    while std::net::TcpStream::connect(addr).is_err() {
        if let Ok(Some(status)) = replica.child.try_wait() {
            panic!("r{n} exited ({status}): {}", std::fs::read_to_string(&replica.log).unwrap_or_default());
        }
        assert!(started.elapsed() < Duration::from_secs(30), "r{n} listens in time");
        std::thread::sleep(Duration::from_millis(20));
    }
    replica.addr = addr;
    replica
}

/// Posts `update` to the replica's webhook as Telegram does; the HTTP status (0: nobody listens).
async fn post(addr: SocketAddr, update: &Value) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = update.to_string();
    let request = format!(
        "POST /hook HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         X-Telegram-Bot-Api-Secret-Token: {SECRET}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else { return 0 };
    if stream.write_all(request.as_bytes()).await.is_err() {
        return 0;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer).await;
    answer.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// Posts `text` from `user` in their private chat to `replica`, asserting it was acknowledged.
async fn say(fake: &FakeApi, replica: &Replica, user: u64, text: &str) {
    let (update, _) = fake.message_update(user, i64::try_from(user).unwrap(), text);
    assert_eq!(post(replica.addr, &fake.numbered(update)).await, 200, "{text} acknowledged");
}

/// Runs `futures` at once; their outputs in order.
async fn futures_join<F: std::future::Future<Output = u16> + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<u16> {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

/// Every text sent to each chat, in order.
fn sent_by_chat(fake: &FakeApi) -> BTreeMap<i64, Vec<String>> {
    let mut by_chat: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for call in fake.calls().iter().filter(|c| c.method == "sendmessage" && c.status == 200) {
        by_chat.entry(call.chat_id().unwrap_or_default()).or_default().push(call.text().to_string());
    }
    by_chat
}

/// Waits (at most `within`) until `done` holds for what was sent.
async fn wait_for(fake: &FakeApi, within: Duration, what: &str, done: impl Fn(&BTreeMap<i64, Vec<String>>) -> bool) {
    let started = Instant::now();
    while !done(&sent_by_chat(fake)) {
        assert!(started.elapsed() < within, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_on_a_cluster_answer_once_in_order_and_survive_a_kill() {
    let Some(cluster) = RedisCluster::start("three_replicas_on_a_cluster_answer_once_in_order_and_survive_a_kill")
    else {
        return;
    };
    let fake = FakeApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let first = start(dir.path(), 1, &cluster, &fake); // creates the master key the others read
    let mut replicas = [first, start(dir.path(), 2, &cluster, &fake), start(dir.path(), 3, &cluster, &fake)];

    // Two-factor set up through r1, confirmed through r2.
    say(&fake, &replicas[0], ANN, "/2fa setup").await;
    let shown = fake.until_sent("send the 6-digit code your app shows").await;
    let secret = palisade_testkit::totp::secret_from_setup(&shown.iter().map(Call::text).collect::<String>());
    say(&fake, &replicas[1], ANN, &palisade_testkit::totp::code_now(&secret, 0)).await;
    fake.until_sent("Two-factor verification is on.").await;

    // A flow started on r1, answered on r2 and r3; the button pressed on r1; its code sent to r2.
    say(&fake, &replicas[0], ANN, "/transfer").await;
    fake.until_sent("How much").await;
    say(&fake, &replicas[1], ANN, "10").await;
    fake.until_sent("Who should receive it?").await;
    say(&fake, &replicas[2], ANN, "Bob").await;
    let asked = fake.until_sent("to Bob?").await;
    let confirm = asked.last().unwrap().params["reply_markup"]["inline_keyboard"][0][0]["callback_data"].clone();
    let message = i32::try_from(asked.last().unwrap().message_id.unwrap()).unwrap();
    let (press, _) = fake.press_update(ANN, i64::try_from(ANN).unwrap(), message, confirm.as_str().unwrap());
    assert_eq!(post(replicas[0].addr, &fake.numbered(press)).await, 200);
    fake.until_sent("To confirm bank.transfer").await;
    let code = palisade_testkit::totp::code_now(&secret, 1);
    say(&fake, &replicas[1], ANN, &code).await;
    fake.until_sent("Sent 10.00 to Bob. Your balance is 990.00.").await;
    // The next transfer needs its own code: the one used, replayed to r3, is refused.
    say(&fake, &replicas[2], ANN, "/transfer 5 Carol").await;
    let asked = fake.until_sent("to Carol?").await;
    let confirm = asked.last().unwrap().params["reply_markup"]["inline_keyboard"][0][0]["callback_data"].clone();
    let message = i32::try_from(asked.last().unwrap().message_id.unwrap()).unwrap();
    let (press, _) = fake.press_update(ANN, i64::try_from(ANN).unwrap(), message, confirm.as_str().unwrap());
    assert_eq!(post(replicas[1].addr, &fake.numbered(press)).await, 200);
    fake.until_sent("To confirm bank.transfer").await;
    say(&fake, &replicas[2], ANN, &code).await;
    fake.until_sent("That code was already used.").await;
    say(&fake, &replicas[0], ANN, "/cancel").await;
    fake.until_sent("Cancelled").await;

    // The command line while the replicas run, each command through a different replica's control socket.
    let cli = |n: usize, args: &[&str]| {
        let config = dir.path().join(format!("r{n}.toml"));
        let mut all = args.to_vec();
        all.extend(["--config", config.to_str().unwrap()]);
        crate::support::palisade(&all, "")
    };
    let verify = cli(1, &["audit", "verify"]);
    assert!(verify.status.success(), "{}", crate::support::text(&verify));
    assert!(crate::support::text(&verify).contains("audit trail intact"), "{}", crate::support::text(&verify));
    let export = cli(2, &["user", "export", "--platform", "telegram", "--id", &ANN.to_string()]);
    assert!(export.status.success(), "{}", crate::support::text(&export));
    assert!(crate::support::text(&export).contains("Bob"), "the transfer is in the export");
    let stats = cli(3, &["store", "stats"]);
    assert!(stats.status.success(), "{}", crate::support::text(&stats));

    // 200 conversations, three messages each, every message to the next replica in turn (a conversation's
    // messages land on different replicas), posted without waiting for answers.
    let people: Vec<u64> = (0..200).map(|i| 700_000 + i).collect();
    let mut n = 0;
    for round in 0..3 {
        for &person in &people {
            say(&fake, &replicas[n % 3], person, &format!("/echo {person}-{round}")).await;
            n += 1;
        }
    }
    let expected = |person: u64, rounds: std::ops::Range<u32>| -> Vec<String> {
        rounds.map(|round| format!("{person}-{round}")).collect()
    };
    wait_for(&fake, Duration::from_secs(60), "every update answered", |sent| {
        people.iter().all(|p| sent.get(&i64::try_from(*p).unwrap()).is_some_and(|t| t.len() >= 3))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent = sent_by_chat(&fake);
    for &person in &people {
        assert_eq!(sent[&i64::try_from(person).unwrap()], expected(person, 0..3), "answered once, in order");
    }

    // Two more messages per person. The first messages of 60 people go to r3 at once, and r3 is killed with
    // SIGKILL as soon as it has acknowledged them, holding work it has not finished; the other messages go to
    // r1 and r2 (what r3 would have had, as a load balancer sends it elsewhere). Nothing acknowledged is lost:
    // r3's work is taken up by another replica once r3 has been silent for 20 s.
    let burst = people[..60].iter().map(|&person| {
        let (update, _) = fake.message_update(person, i64::try_from(person).unwrap(), &format!("/echo {person}-3"));
        let update = fake.numbered(update);
        let addr = replicas[2].addr;
        async move { post(addr, &update).await }
    });
    let acknowledged = futures_join(burst).await;
    replicas[2].child.kill().unwrap();
    let killed = Instant::now();
    assert!(acknowledged.iter().all(|s| *s == 200), "{acknowledged:?}");
    for (i, &person) in people.iter().enumerate() {
        let rounds: &[u32] = if i < 60 { &[4] } else { &[3, 4] };
        for &round in rounds {
            let text = format!("/echo {person}-{round}");
            let (update, _) = fake.message_update(person, i64::try_from(person).unwrap(), &text);
            assert_eq!(post(replicas[(i + round as usize) % 2].addr, &fake.numbered(update)).await, 200);
        }
    }
    let all_answered = |sent: &BTreeMap<i64, Vec<String>>| {
        people.iter().all(|p| {
            let texts = &sent[&i64::try_from(*p).unwrap()];
            texts.contains(&format!("{p}-3")) && texts.contains(&format!("{p}-4"))
        })
    };
    let started = Instant::now();
    while !all_answered(&sent_by_chat(&fake)) {
        if started.elapsed() > Duration::from_secs(120) {
            let sent = sent_by_chat(&fake);
            let missing: Vec<_> =
                people.iter().filter(|p| !sent[&i64::try_from(**p).unwrap()].contains(&format!("{p}-3"))).collect();
            let logs: String = replicas[..2].iter().map(|r| std::fs::read_to_string(&r.log).unwrap()).collect();
            panic!("not answered after the kill: {missing:?}\n{logs}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let answered_in = killed.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent = sent_by_chat(&fake);
    let mut repeated = 0;
    for &person in &people {
        let texts = &sent[&i64::try_from(person).unwrap()];
        assert_eq!(texts[..3], expected(person, 0..3), "earlier answers untouched");
        let mut later = texts[3..].to_vec();
        repeated += later.len().saturating_sub(2);
        later.sort();
        later.dedup();
        assert_eq!(later, expected(person, 3..5), "both answered: {texts:?}");
        // Across the crash, what r3 had accepted runs after what came later elsewhere; everyone else's
        // answers keep their order.
        if person >= people[60] {
            assert_eq!(texts[3..5], expected(person, 3..5), "in order: {texts:?}");
        }
    }
    // r3's replies sent just before the kill but not yet cleared from its journal go out once more when its
    // work is taken up; nothing else is repeated.
    assert!(repeated <= 5, "{repeated} answers repeated");
    let taken_up = [&replicas[0], &replicas[1]]
        .iter()
        .any(|r| std::fs::read_to_string(&r.log).unwrap().contains("took over the unfinished work"));
    eprintln!(
        "after the kill: all answered within {answered_in:?}; {repeated} repeated; r3's work taken up: {taken_up}"
    );
    for replica in &mut replicas[..2] {
        let _ = Command::new("kill").arg("-TERM").arg(replica.child.id().to_string()).status();
        let status = replica.child.wait().unwrap();
        assert!(status.success(), "a replica stops cleanly: {}", std::fs::read_to_string(&replica.log).unwrap());
    }
}

/// `[store]` on the Redis at `url` with the key in `key_file`, as replica `r1` of a console bot with notes.
fn redis_config(dir: &Path, url: &str, key_file: &str) -> String {
    let path = dir.join(format!("redis-{key_file}.toml"));
    let body = format!(
        "[dispatch]\nreplica = \"r1\"\n[store]\nbackend = \"redis\"\npath = \"{}\"\nmaster_key_file = \"{}\"\n\
         [store.redis]\nurl = \"{url}\"\n[logging]\nlevel = \"warn\"\n[adapters.console]\n[plugins.notes]\n",
        dir.join("data").display(),
        dir.join(key_file).display()
    );
    std::fs::write(&path, body).unwrap();
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_store_rotates_its_key_only_with_every_replica_stopped() {
    use crate::support::{palisade, text};
    let Some(server) =
        palisade_testkit::redis::RedisServer::start("a_redis_store_rotates_its_key_only_with_every_replica_stopped")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for key in ["old.key", "new.key"] {
        assert!(palisade(&["keygen", "--out", dir.path().join(key).to_str().unwrap()], "").status.success());
    }
    let old = redis_config(dir.path(), &server.url(), "old.key");
    let chat = palisade(&["chat", "--config", &old], "/note keep me\nKept\n");
    assert!(text(&chat).contains("Saved “Kept”."), "{}", text(&chat));
    let new_key = dir.path().join("new.key");
    let rotate =
        || palisade(&["store", "rotate-key", "--config", &old, "--new-key-file", new_key.to_str().unwrap()], "");

    // A replica is running (its name beats in the store): refused, nothing changed.
    let loaded = palisade::config::Loader::new(&old).load().unwrap();
    let store = palisade::store::open(&loaded.settings.store, palisade::clock::SystemClock::shared()).await.unwrap();
    let clock = palisade::clock::SystemClock::shared();
    let running = palisade::replicas::Membership::join(store.clone(), clock, "r2").await.unwrap();
    let refused = rotate();
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(text(&refused).contains("1 replica(s) of this bot are running"), "{}", text(&refused));
    assert!(palisade(&["store", "check", "--config", &old], "").status.success(), "still under the old key");

    // Stopped: the rotation runs, the old key no longer opens the store, the new one reads everything.
    let stop = tokio_util::sync::CancellationToken::new();
    stop.cancel();
    running.run(stop).await;
    let rotated = rotate();
    assert!(rotated.status.success(), "{}", text(&rotated));
    assert!(text(&rotated).contains("re-wrapped"), "{}", text(&rotated));
    let stale = palisade(&["store", "check", "--config", &old], "");
    assert_eq!(stale.status.code(), Some(1));
    assert!(text(&stale).contains("master key does not match"), "{}", text(&stale));
    let new = redis_config(dir.path(), &server.url(), "new.key");
    let notes = palisade(&["chat", "--config", &new], "/notes\n");
    assert!(text(&notes).contains("1. Kept — keep me"), "{}", text(&notes));
}
