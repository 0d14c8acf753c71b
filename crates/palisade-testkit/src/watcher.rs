//! A plugin that asks for every event kind beyond text and writes down what it was told, one line each
//! (`joined telegram:1`, `edited 11 to text`, `reacted 👍 to 11`, `file F1 Some("caption")`): what an adapter's
//! test checks its mapping against. A file's bytes are fetched through the adapter and answered as
//! `Got NAME: CONTENTS` (or the error), so the download path is exercised too.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use palisade::config::{DispatchSettings, Settings};
use palisade::plugin::{Command, Ctx, Interest, Plugin, PluginError};
use palisade_core::{Adapter, EventKind};

use crate::Running;

/// The file size cap [`Watcher::run`] sets (`[dispatch] max_file_bytes`): small, so a test can send one over it.
pub const FILE_CAP: u64 = 40;

/// Records each event it receives; see the module documentation for the lines.
#[derive(Debug, Default)]
pub struct Watcher(Mutex<Vec<String>>);

impl Watcher {
    /// A bot on `adapter` (against its fake) with a watcher and the plugins in `also`, files capped at
    /// [`FILE_CAP`], its store on sled in `dir`.
    pub async fn run(adapter: Box<dyn Adapter>, dir: &Path, also: Vec<Arc<dyn Plugin>>) -> (Arc<Self>, Running) {
        let watcher = Arc::new(Self::default());
        let mut plugins: Vec<Arc<dyn Plugin>> = vec![watcher.clone()];
        plugins.extend(also);
        let dispatch = DispatchSettings { max_file_bytes: FILE_CAP, ..DispatchSettings::default() };
        let settings = Settings { dispatch, ..Settings::default() };
        let store = crate::sled_store(dir).await;
        (watcher, Running::start(adapter, store, plugins, settings).await)
    }

    /// Everything recorded so far, in arrival order.
    pub fn seen(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Waits (up to 5 s, real time) until `n` events were recorded, and returns them.
    pub async fn until(&self, n: usize) -> Vec<String> {
        for _ in 0..250 {
            if self.seen().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.seen()
    }
}

#[async_trait::async_trait]
impl Plugin for Watcher {
    fn name(&self) -> &'static str {
        "watcher"
    }

    fn commands(&self) -> Vec<Command> {
        Vec::new()
    }

    fn events(&self) -> Vec<Interest> {
        vec![Interest::Members, Interest::Reactions, Interest::Edits, Interest::Files]
    }

    async fn command(&self, _: &str, _: &mut Ctx) -> Result<(), PluginError> {
        Ok(())
    }

    async fn event(&self, ctx: &mut Ctx) -> Result<(), PluginError> {
        let seen = match ctx.event().kind.clone() {
            EventKind::MemberJoined => format!("joined {}", ctx.user()),
            EventKind::MemberLeft => format!("left {}", ctx.user()),
            EventKind::Edited { message, text } => format!("edited {} to {text}", message.0),
            EventKind::Reaction { message, emoji } => format!("reacted {emoji} to {}", message.0),
            EventKind::File(file) => {
                let told = match ctx.fetch_file(&file).await {
                    Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                    Err(e) => e.to_string(),
                };
                ctx.reply(format!("Got {}: {told}", file.name.clone().unwrap_or_default()));
                format!("file {} {:?}", file.id, file.caption)
            }
            _ => "other".into(),
        };
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(seen);
        Ok(())
    }
}
