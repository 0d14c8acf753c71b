//! Support for end-to-end benchmarks: the bot on a runtime of its own, and the CPU time its threads used.

use std::time::Duration;

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

/// CPU time (user and system) so far of this process's threads whose name starts with [`BOT_THREADS`],
/// read from `/proc/self/task` (Linux; zero elsewhere).
pub fn bot_cpu() -> Duration {
    let mut ticks = 0u64;
    for task in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
        if !std::fs::read_to_string(task.path().join("comm")).unwrap_or_default().starts_with(BOT_THREADS) {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // After the command name (in parentheses), utime and stime are the 12th and 13th fields.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let fields: Vec<&str> = rest.split_whitespace().collect();
        for i in [11, 12] {
            ticks += fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    Duration::from_millis(ticks * 10) // USER_HZ is 100 on Linux
}
