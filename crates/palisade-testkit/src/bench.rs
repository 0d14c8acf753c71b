//! Support for benchmarks: the bot on a runtime of its own, the CPU time its threads used, an outbox that
//! drops replies, and console events spread over conversations.

use std::time::Duration;

use palisade::{ChatKind, ChatRef, Event, MessageId, Outbox, Platform, Reply, SendError, UserRef};

/// An outbox that takes every reply and sends nothing (the dispatcher's cost without a platform's).
#[derive(Debug, Clone, Copy, Default)]
pub struct Discard;

#[palisade::async_trait]
impl Outbox for Discard {
    async fn deliver(&self, _reply: &Reply) -> Result<Option<MessageId>, SendError> {
        Ok(None)
    }
}

/// A dispatcher over `plugins` and `store` configured by `settings`, its replies discarded, running on the
/// current runtime until the returned token is cancelled; events go in through the sink.
///
/// # Panics
/// When the dispatcher cannot be built.
pub fn run_dispatcher(
    plugins: Vec<std::sync::Arc<dyn palisade::Plugin>>,
    store: palisade::store::SharedStore,
    settings: palisade::config::DispatchSettings,
) -> (palisade::EventSink, tokio_util::sync::CancellationToken) {
    let dispatcher = palisade::Dispatcher::builder(plugins, store)
        .dispatch_settings(settings)
        .outbox(Platform::CONSOLE, std::sync::Arc::new(Discard), palisade::adapter::Capabilities::CONSOLE)
        .build()
        .unwrap_or_else(|e| panic!("the dispatcher builds: {e}"));
    let sink = dispatcher.sink();
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(dispatcher.run(stop.clone()));
    (sink, stop)
}

/// Hands `total` `/echo` events spread over `conversations` to `sinks` in turn, as adapters with a batch of
/// deliveries do (all of it, then the acceptances), then one awaited event per conversation; since each
/// conversation is ordered, when those are done the whole batch is.
///
/// # Panics
/// When the dispatcher refuses or drops an event.
pub async fn batch(sinks: &[palisade::EventSink], total: usize, conversations: usize) {
    let mut pending = Vec::with_capacity(total);
    for i in 0..total - conversations {
        let envelope = palisade::Envelope::new(console_event(i % conversations, "/echo hello"));
        let queued = sinks[i % sinks.len()].enqueue(envelope).await;
        pending.push(queued.unwrap_or_else(|e| panic!("queued: {e}")));
    }
    for result in futures::future::join_all(pending.into_iter().map(palisade::Pending::accepted)).await {
        result.unwrap_or_else(|e| panic!("accepted: {e}"));
    }
    let waits = (0..conversations).map(|c| sinks[c % sinks.len()].submit_and_wait(console_event(c, "/echo last")));
    for result in futures::future::join_all(waits).await {
        result.unwrap_or_else(|e| panic!("handled: {e}"));
    }
}

/// `text` from console user `user<conversation>` in their direct chat.
pub fn console_event(conversation: usize, text: &str) -> Event {
    let id = format!("user{conversation}");
    Event::text(
        UserRef::new(Platform::CONSOLE, id.clone()),
        ChatRef::new(Platform::CONSOLE, id, ChatKind::Direct),
        text,
    )
}

/// The name every thread of [`bot_runtime`] carries, which [`bot_cpu`] counts.
pub const BOT_THREADS: &str = "bot";

/// A current-thread runtime for the bot under measurement (one core for its work); its blocking pool, where
/// sled's fsyncs run, carries the same thread name and is kept alive, so its CPU time is counted too.
///
/// # Panics
/// When the runtime cannot be built.
pub fn bot_runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_current_thread()
        .thread_name(BOT_THREADS)
        .thread_keep_alive(Duration::from_secs(3600))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("the bot's runtime builds: {e}"),
    }
}

/// Names of the threads sled starts for a store (its I/O pool and its periodic flusher): they work for
/// whichever bot is running, so [`bot_cpu`] counts them with the bot's own.
const SLED_THREADS: [&str; 2] = ["sled-io", "log flusher"];

/// CPU time (user and system) so far of this process's threads whose name starts with [`BOT_THREADS`], and
/// of sled's threads, read from `/proc/self/task` (Linux; zero elsewhere).
pub fn bot_cpu() -> Duration {
    let mut total = Duration::ZERO;
    for task in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
        let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if name.starts_with(BOT_THREADS) || SLED_THREADS.iter().any(|s| name.starts_with(s)) {
            total += cpu_in(&task.path().join("stat"));
        }
    }
    total
}

/// CPU time (user and system) so far of process `pid`, all its threads (Linux; zero elsewhere).
pub fn process_cpu(pid: u32) -> Duration {
    cpu_in(std::path::Path::new(&format!("/proc/{pid}/stat")))
}

/// The user and system time in a `/proc/…/stat` file.
fn cpu_in(stat: &std::path::Path) -> Duration {
    let stat = std::fs::read_to_string(stat).unwrap_or_default();
    // After the command name (in parentheses), utime and stime are the 12th and 13th fields.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = [11, 12].iter().filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok())).sum();
    Duration::from_millis(ticks * 10) // USER_HZ is 100 on Linux
}

/// Resident memory of process `pid` now and at its peak (`VmRSS`, `VmHWM`), in KiB (Linux; `None`
/// elsewhere).
pub fn process_memory(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status.lines().find_map(|l| l.strip_prefix(name)?.trim().strip_suffix("kB")?.trim().parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// What [`spawn_bot`] runs: an adapter, and where it reports its listening address (if it listens).
pub type BenchAdapter =
    (Box<dyn palisade::Adapter>, Option<tokio::sync::watch::Receiver<Option<std::net::SocketAddr>>>);

/// Runs the adapter `make` builds with the dispatcher over `plugins`, on an anchored sled store in `dir`,
/// on [`bot_runtime`] in a thread of its own (named so that [`bot_cpu`] counts it), until the process
/// ends. Returns once the adapter listens (its address), or at once for an adapter that does not.
///
/// # Panics
/// When the dispatcher cannot be built or the adapter never reports its address.
pub fn spawn_bot(
    make: impl FnOnce() -> BenchAdapter + Send + 'static,
    plugins: Vec<std::sync::Arc<dyn palisade::Plugin>>,
    dir: std::path::PathBuf,
    settings: palisade::config::DispatchSettings,
) -> Option<std::net::SocketAddr> {
    let (tx, rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new().name(format!("{BOT_THREADS}-main")).spawn(move || {
        bot_runtime().block_on(async move {
            let (mut adapter, listening) = make();
            let commands: Vec<_> = plugins.iter().flat_map(|p| p.commands()).collect();
            adapter.register_commands(&commands);
            let store = crate::stores::anchored_sled_store(&dir).await;
            let built =
                palisade::Dispatcher::builder(plugins, store).dispatch_settings(settings).adapter(&*adapter).build();
            let dispatcher = built.unwrap_or_else(|e| panic!("the dispatcher builds: {e}"));
            let sink = dispatcher.sink();
            let stop = tokio_util::sync::CancellationToken::new();
            tokio::spawn(dispatcher.run(stop.clone()));
            tokio::spawn(adapter.run(sink, stop));
            let addr = match listening {
                Some(mut l) => {
                    *l.wait_for(Option::is_some).await.unwrap_or_else(|e| panic!("the adapter listens: {e}"))
                }
                None => None,
            };
            let _ = tx.send(addr);
            std::future::pending::<()>().await;
        });
    });
    if let Err(e) = spawned {
        panic!("the bot's thread starts: {e}");
    }
    rx.recv().unwrap_or_else(|e| panic!("the bot started: {e}"))
}
