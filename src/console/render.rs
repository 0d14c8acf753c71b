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

    fn file(&self, name: &str, bytes: &[u8], caption: Option<&str>) -> Result<String, SendError> {
        let n = self.sent.fetch_add(1, Ordering::Relaxed) + 1;
        std::fs::create_dir_all(&self.image_dir)
            .map_err(|e| SendError::Rejected(format!("cannot create {}: {e}", self.image_dir.display())))?;
        let safe: String =
            name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' }).collect();
        let path = self.image_dir.join(format!("{}-{n}-{safe}", std::process::id()));
        crate::private_file::write_private(&path, bytes)
            .map_err(|e| SendError::Rejected(format!("cannot write {}: {e}", path.display())))?;
        let caption = caption.map(|c| format!(" {c}")).unwrap_or_default();
        Ok(format!("bot (only you)> [file saved to {}]{caption}\n", path.display()))
    }

    fn image(&self, png: &[u8], caption: Option<&str>) -> Result<String, SendError> {
        let n = self.sent.fetch_add(1, Ordering::Relaxed) + 1;
        std::fs::create_dir_all(&self.image_dir)
            .map_err(|e| SendError::Rejected(format!("cannot create {}: {e}", self.image_dir.display())))?;
        let path = self.image_dir.join(format!("image-{}-{n}.png", std::process::id()));
        std::fs::write(&path, png).map_err(|e| SendError::Rejected(format!("cannot write {}: {e}", path.display())))?;
        let caption = caption.map(|c| format!(" {c}")).unwrap_or_default();
        Ok(format!("bot> [image saved to {}]{caption}\n", path.display()))
    }
}

#[async_trait]
impl Outbox for ConsoleOutbox {
    async fn deliver(&self, reply: &Reply) -> Result<Option<MessageId>, SendError> {
        let rendered = match &reply.body {
            ReplyBody::Text { text, buttons } => self.text(text, buttons, reply.private),
            ReplyBody::Image { png, caption } => self.image(png, caption.as_deref())?,
            ReplyBody::Delete(id) => format!("bot> (your message #{} was removed)\n", id.0),
            ReplyBody::CodePrompt { text } => self.text(text, &[], true),
            ReplyBody::File { name, bytes, caption } => self.file(name, bytes, caption.as_deref())?,
        };
        self.write(&rendered);
        Ok(None)
    }
}
