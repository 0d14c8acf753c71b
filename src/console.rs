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
        Self {
            user: "you".into(),
            image_dir: None,
        }
    }
}

/// The console adapter.
pub struct ConsoleAdapter {
    user: String,
    lines: mpsc::Receiver<String>,
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
        let (tx, rx) = mpsc::channel(16);
        // A plain thread, not tokio's stdin: a blocking read cannot be cancelled, and tokio would wait for it
        // at runtime shutdown. This thread simply ends with the process.
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if tx.blocking_send(line).is_err() {
                    break;
                }
            }
        });
        let prompt = std::io::stdin().is_terminal();
        Self::new(user, rx, Box::new(std::io::stdout()), image_dir, prompt)
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
        Self {
            user: user.into(),
            lines,
            outbox,
            prompt,
        }
    }

    fn event(&self, line: &str, seq: u64) -> Event {
        let user = UserRef::new(Platform::Console, self.user.clone());
        let chat = ChatRef::new(Platform::Console, self.user.clone(), ChatKind::Direct);
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
        }
    }
}

#[async_trait]
impl Adapter for ConsoleAdapter {
    fn platform(&self) -> Platform {
        Platform::Console
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::CONSOLE
    }

    fn outbox(&self) -> Arc<dyn Outbox> {
        self.outbox.clone()
    }

    async fn run(mut self: Box<Self>, sink: EventSink, shutdown: CancellationToken) -> Result<(), AdapterError> {
        let mut seq = 0;
        loop {
            if self.prompt {
                self.outbox.prompt();
            }
            let line = tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                line = self.lines.recv() => line,
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

/// Builds the console adapter from `[adapters.console]`.
pub fn factory(section: &Section, settings: &Settings) -> Result<Box<dyn Adapter>, Vec<Problem>> {
    let s: ConsoleSettings = section.parse()?;
    let dir = s.image_dir.unwrap_or_else(|| settings.store.path.join("console"));
    Ok(Box::new(ConsoleAdapter::stdio(s.user, dir)))
}
