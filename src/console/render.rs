//! How replies look in a terminal.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use crate::adapter::{Outbox, SendError};
use crate::event::MessageId;
use crate::reply::{Button, Reply, ReplyBody};

/// Prints replies; remembers the last buttons so a typed number can press one.
///
/// std `Mutex`es: every critical section is a short synchronous write, never held across an `.await`.
pub struct ConsoleOutbox {
    out: Arc<Mutex<Box<dyn Write + Send>>>,
    image_dir: PathBuf,
    buttons: Mutex<Vec<Button>>,
    sent: AtomicU64,
}

impl std::fmt::Debug for ConsoleOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleOutbox").field("image_dir", &self.image_dir).finish_non_exhaustive()
    }
}

impl ConsoleOutbox {
    pub(super) fn new(out: Arc<Mutex<Box<dyn Write + Send>>>, image_dir: PathBuf) -> Self {
        Self { out, image_dir, buttons: Mutex::new(Vec::new()), sent: AtomicU64::new(0) }
    }

    /// The data of the button numbered `line` among the last ones shown, if `line` is such a number.
    pub(super) fn button_for(&self, line: &str) -> Option<String> {
        let n: usize = line.trim().parse().ok()?;
        let buttons = self.buttons.lock().unwrap_or_else(PoisonError::into_inner);
        n.checked_sub(1).and_then(|i| buttons.get(i)).map(|b| b.data.clone())
    }

    pub(super) fn prompt(&self) {
        self.write("you> ");
    }

    fn write(&self, text: &str) {
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        // A closed stdout (the reader went away) is not worth failing a conversation over.
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    }

    fn text(&self, text: &str, buttons: &[Button], private: bool) -> String {
        let who = if private { "bot (only you)> " } else { "bot> " };
        let mut s = String::new();
        for (i, line) in text.lines().enumerate() {
            s.push_str(if i == 0 { who } else { "     " });
            s.push_str(line);
            s.push('\n');
        }
        if !buttons.is_empty() {
            let choices: Vec<String> =
                buttons.iter().enumerate().map(|(i, b)| format!("[{}] {}", i + 1, b.label)).collect();
            s.push_str(&format!("     {}  (answer with the number)\n", choices.join("  ")));
        }
        *self.buttons.lock().unwrap_or_else(PoisonError::into_inner) = buttons.to_vec();
        s
    }

    /// Saves `bytes` as a file readable by its owner only, in a directory only its owner can enter.
    fn save(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, SendError> {
        crate::private_file::create_private_dir(&self.image_dir)
            .map_err(|e| SendError::Rejected(format!("cannot create {}: {e}", self.image_dir.display())))?;
        let n = self.sent.fetch_add(1, Ordering::Relaxed) + 1;
        let safe: String =
            name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' }).collect();
        let path = self.image_dir.join(format!("{}-{n}-{safe}", std::process::id()));
        crate::private_file::write_private(&path, bytes)
            .map_err(|e| SendError::Rejected(format!("cannot write {}: {e}", path.display())))?;
        Ok(path)
    }

    /// Takes back what `id` names: a file this outbox saved is deleted; text already printed cannot be.
    fn delete(&self, id: &MessageId) -> Result<String, SendError> {
        if let Some(path) = id.0.strip_prefix("file:") {
            return match std::fs::remove_file(path) {
                Ok(()) => Ok(format!("bot> (deleted {path})\n")),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
                Err(e) => Err(SendError::Rejected(format!("cannot delete {path}: {e}"))),
            };
        }
        if id.0.starts_with("text:") {
            return Err(SendError::Unsupported("text shown in a terminal cannot be taken back"));
        }
        Ok(format!("bot> (your message #{} was removed)\n", id.0))
    }
}

#[async_trait]
impl Outbox for ConsoleOutbox {
    async fn deliver(&self, reply: &Reply) -> Result<Option<MessageId>, SendError> {
        let who = if reply.private { "bot (only you)> " } else { "bot> " };
        let caption = |c: &Option<String>| c.as_deref().map(|c| format!(" {c}")).unwrap_or_default();
        let (rendered, id) = match &reply.body {
            ReplyBody::Text { text, buttons } => (self.text(text, buttons, reply.private), None),
            ReplyBody::CodePrompt { text } => (self.text(text, &[], true), None),
            ReplyBody::Image { png, caption: c } => {
                let path = self.save("image.png", png)?;
                (format!("{who}[image saved to {}]{}\n", path.display(), caption(c)), Some(path))
            }
            ReplyBody::File { name, bytes, caption: c } => {
                let path = self.save(name, bytes)?;
                (format!("{who}[file saved to {}]{}\n", path.display(), caption(c)), Some(path))
            }
            ReplyBody::Delete(id) => (self.delete(id)?, None),
            ReplyBody::Edit { message, text } => (format!("bot> (message {} now reads) {}\n", message.0, text), None),
            _ => return Err(SendError::Unsupported("this kind of reply in a terminal")),
        };
        self.write(&rendered);
        let n = self.sent.fetch_add(1, Ordering::Relaxed);
        Ok(Some(MessageId(match id {
            Some(path) => format!("file:{}", path.display()),
            None => format!("text:{n}"),
        })))
    }
}
