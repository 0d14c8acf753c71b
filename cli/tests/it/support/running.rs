//! A `palisade run` in the background, as an operator has it: fed on stdin, its output and log collected.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::palisade;

/// A `palisade run` with the console adapter, fed on stdin, its stdout collected.
pub struct Running {
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    out: Arc<Mutex<String>>,
    log: Arc<Mutex<String>>,
    cfg: PathBuf,
}

pub fn write_config(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("bot.toml");
    let text = format!(
        "[store]\npath = \"{}\"\nmaster_key_file = \"{}\"\ncreate_key_file = true\n[logging]\nlevel = \"info\"\n\
         [adapters.console]\nuser = \"tester\"\n[plugins.echo]\n[plugins.notes]\n{extra}",
        dir.join("data").display(),
        dir.join("master.key").display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn collect(from: impl std::io::Read + Send + 'static) -> Arc<Mutex<String>> {
    let into = Arc::new(Mutex::new(String::new()));
    let sink = into.clone();
    std::thread::spawn(move || {
        let mut reader = std::io::BufReader::new(from);
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
            sink.lock().unwrap().push_str(&line);
            line.clear();
        }
    });
    into
}

impl Running {
    pub fn start(cfg: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
            .args(["run", "--config", cfg.to_str().unwrap()])
            .env_remove("PALISADE_CONFIG")
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = collect(child.stdout.take().unwrap());
        let log = collect(child.stderr.take().unwrap());
        let bot = Self { stdin: child.stdin.take(), child, out, log, cfg: cfg.to_path_buf() };
        bot.wait(|b| b.cli(&["status"]).status.code() == Some(0), "the control socket to answer");
        bot
    }

    pub fn say(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(format!("{line}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    pub fn wait(&self, done: impl Fn(&Self) -> bool, what: &str) {
        let start = Instant::now();
        while !done(self) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "timed out waiting for {what}\n--- stdout ---\n{}\n--- log ---\n{}",
                self.stdout(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn wait_for(&self, needle: &str, times: usize) {
        self.wait(|b| b.stdout().matches(needle).count() >= times, needle);
    }

    pub fn stdout(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// `palisade ARGS --config <this bot's file>`.
    pub fn cli(&self, args: &[&str]) -> Output {
        let mut all = args.to_vec();
        all.extend(["--config", self.cfg.to_str().unwrap()]);
        palisade(&all, "")
    }

    /// Ends input, which stops the bot; returns its exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        drop(self.stdin.take());
        self.child.wait().unwrap()
    }
}
