//! The console adapter: talk to the bot in a terminal, or drive it from a script through stdin.
//!
//! Each input line is one message. Buttons are shown as numbered choices and answered with the number;
//! images are written to files whose paths are printed. At end of input the adapter returns once every reply
//! has been printed, so `printf '/help\n' | palisade chat …` is a complete, non-interactive session.

mod render;

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use render::ConsoleOutbox;

use crate::adapter::{Adapter, AdapterError, Capabilities, EventSink, Outbox};
use crate::config::{Problem, Section, Settings};
use crate::event::{ChatKind, ChatRef, Event, EventKind, MessageId, Platform, UserRef};

/// `[adapters.console]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct ConsoleSettings {
    /// The console user's id (`console:<user>` in `[roles]`).
    pub user: String,
    /// Where images (such as QR codes) are written; default `<store.path>/console`.
    pub image_dir: Option<PathBuf>,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        Self { user: "you".into(), image_dir: None }
    }
}

/// The console adapter.
pub struct ConsoleAdapter {
    user: String,
    /// Input lines; `None` means stdin, opened only when the adapter runs (so `config check` never reads it).
    lines: Option<mpsc::Receiver<String>>,
    outbox: Arc<ConsoleOutbox>,
    prompt: bool,
}

impl std::fmt::Debug for ConsoleAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleAdapter").finish_non_exhaustive()
    }
}

impl ConsoleAdapter {
    /// A console on the process's stdin and stdout.
    pub fn stdio(user: impl Into<String>, image_dir: PathBuf) -> Self {
        let prompt = std::io::stdin().is_terminal();
        let outbox = Arc::new(ConsoleOutbox::new(Arc::new(Mutex::new(Box::new(std::io::stdout()))), image_dir));
        Self { user: user.into(), lines: None, outbox, prompt }
    }

    /// A console reading lines from `lines` and writing to `out` (for tests and embedding).
    pub fn new(
        user: impl Into<String>,
        lines: mpsc::Receiver<String>,
        out: Box<dyn Write + Send>,
        image_dir: PathBuf,
        prompt: bool,
    ) -> Self {
        let outbox = Arc::new(ConsoleOutbox::new(Arc::new(Mutex::new(out)), image_dir));
        Self { user: user.into(), lines: Some(lines), outbox, prompt }
    }

    fn event(&self, line: &str, seq: u64) -> Event {
        let user = UserRef::new(Platform::CONSOLE, self.user.clone());
        let chat = ChatRef::new(Platform::CONSOLE, self.user.clone(), ChatKind::Direct);
        let kind = match self.outbox.button_for(line) {
            Some(data) => EventKind::Button(data),
            None => EventKind::from_text(line, None),
        };
        Event {
            user,
            display_name: Some(self.user.clone()),
            chat,
            message_id: Some(MessageId(seq.to_string())),
            kind,
            private_input: false,
            addressed: true,
            language: None,
        }
    }
}

#[async_trait]
impl Adapter for ConsoleAdapter {
    fn platform(&self) -> Platform {
        Platform::CONSOLE
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::CONSOLE
    }

    fn outbox(&self) -> Arc<dyn Outbox> {
        self.outbox.clone()
    }

    async fn run(mut self: Box<Self>, sink: EventSink, shutdown: CancellationToken) -> Result<(), AdapterError> {
        let mut lines = self.lines.take().unwrap_or_else(read_stdin);
        let mut seq = 0;
        loop {
            if self.prompt {
                self.outbox.prompt();
            }
            let line = tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                line = lines.recv() => line,
            };
            let Some(line) = line else { return Ok(()) };
            if line.trim().is_empty() {
                continue;
            }
            seq += 1;
            let event = self.event(line.trim(), seq);
            if sink.submit_and_wait(event).await.is_err() {
                return Ok(());
            }
        }
    }
}

/// Lines from stdin, read on a plain thread rather than with tokio's stdin: a blocking read cannot be
/// cancelled, and tokio would wait for it at runtime shutdown. The thread simply ends with the process.
fn read_stdin() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Builds the console adapter on stdin/stdout from `[adapters.console]`, optionally as another user.
pub fn from_section(
    section: &Section,
    settings: &Settings,
    user: Option<String>,
) -> Result<ConsoleAdapter, Vec<Problem>> {
    let s: ConsoleSettings = section.parse()?;
    let user = user.unwrap_or(s.user);
    if user.is_empty() || user.chars().any(char::is_whitespace) {
        return Err(vec![Problem::at(format!("{}.user", section.path()), "must be a name without spaces")]);
    }
    let dir = s.image_dir.unwrap_or_else(|| settings.store.path.join("console"));
    Ok(ConsoleAdapter::stdio(user, dir))
}

/// The registry factory for `[adapters.console]`.
pub fn factory(section: &Section, settings: &Settings) -> Result<Box<dyn Adapter>, Vec<Problem>> {
    Ok(Box::new(from_section(section, settings, None)?))
}
