//! The control socket: how the command line reaches the running bot, so that staff answer access and
//! erasure requests, verify the audit trail and inspect the store without stopping it.
//!
//! The bot serves a Unix domain socket (`control.sock` in its data directory, or `[control] socket`): the
//! directory is made private (0700), the socket is 0600, and every connection's peer credentials come from
//! the kernel — only the bot's own user and root are served; anyone else is turned away, logged, counted
//! (`palisade_control_refused_total`) and audited. A socket left behind by a crashed process is detected
//! (nobody answers on it) and replaced at start, and never trusted by the command line. Every request is
//! audited with the OS user who made it. `status` and `reload` are answered here; the `user`, `audit` and
//! `store` subcommands by the binary's [`Commands`], over the bot's own open store.
//!
//! | module | owns |
//! |---|---|
//! | `wire` | the protocol: a JSON request line; a JSON answer line and an attached document |
//! | `peer` | who the peer is (uid from the kernel), who may connect, names for the audit trail |
//! | `client` | the command line's side: finding, checking and asking the running bot |

mod client;
mod peer;
mod wire;

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;

pub use client::ask;
pub use peer::{Caller, allowed};
pub use wire::{Answer, Envelope, Request};

use crate::alerts::Alerts;
use crate::audit::{Audit, Outcome};
use crate::clock::SharedClock;
use crate::config::Loaded;
use crate::outboxes::Outboxes;
use crate::privacy::Privacy;
use crate::reload::Reloader;
use crate::status::{AuditStatus, Board, Load, Queues, RightsStatus, Status, StoreStatus};
use crate::stepup::StepUp;
use crate::store::{RecordStore, SharedStore, StoreError};
use crate::watch::LastCheck;

/// Requests served at once; more wait for their turn.
const CONCURRENT: usize = 4;
/// How long a peer may take to send its request.
const REQUEST_WITHIN: Duration = Duration::from_secs(10);

/// The `user`, `audit` and `store` subcommands of a binary's command line, run inside the bot.
#[async_trait::async_trait]
pub trait Commands: Send + Sync + 'static {
    /// Runs `command` (as the command line encoded it) against the running bot's services.
    async fn run(&self, command: serde_json::Value, live: &Live) -> Answer;

    /// The command's name for the audit trail (`user export`), without its arguments (they may name a
    /// person).
    fn name(&self, command: &serde_json::Value) -> String;
}

/// The running bot's services, as operator commands use them.
#[derive(Clone)]
pub struct Live {
    /// The configuration the bot started with.
    pub loaded: Loaded,
    /// The encrypted store.
    pub store: SharedStore,
    /// The same store as its concrete type (backups), when it is one.
    pub records: Option<Arc<RecordStore>>,
    /// The audit trail.
    pub audit: Arc<Audit>,
    /// Privacy rights.
    pub privacy: Arc<Privacy>,
    /// Step-up verification.
    pub stepup: Arc<StepUp>,
    /// Time.
    pub clock: SharedClock,
    /// The last audit verification.
    pub last_check: LastCheck,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live").field("file", &self.loaded.file).finish_non_exhaustive()
    }
}

/// Everything the socket answers from.
pub struct Control {
    /// The services commands use.
    pub live: Live,
    /// Adapters' states.
    pub board: Arc<Board>,
    /// Queue depths.
    pub load: Arc<Load>,
    /// The send scheduler.
    pub outboxes: Outboxes,
    /// Alerts raised.
    pub alerts: Arc<Alerts>,
    /// Reloads.
    pub reloader: Arc<Reloader>,
    /// The binary's own subcommands, if it serves any.
    pub commands: Option<Arc<dyn Commands>>,
    /// When the bot started.
    pub started: tokio::time::Instant,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control").finish_non_exhaustive()
    }
}

impl Control {
    /// Answers one request from `caller`, and audits it.
    pub async fn answer(&self, envelope: Envelope, caller: &Caller) -> Answer {
        let mine = env!("CARGO_PKG_VERSION");
        if envelope.version != mine {
            return Answer::fail(
                2,
                format!(
                    "this command line is version {}, the running bot version {mine}; use the bot's own binary",
                    envelope.version
                ),
            );
        }
        let (name, answer) = match envelope.request {
            Request::Status => ("status".to_string(), self.status_answer().await),
            Request::Reload => {
                let answer = match self.reloader.reload(&caller.describe()).await {
                    Ok(done) => Answer::ok(format!("{}\n", done.describe())),
                    Err(e) => Answer::fail(2, e),
                };
                ("reload".to_string(), answer)
            }
            Request::Command { command } => match &self.commands {
                Some(commands) => (commands.name(&command), commands.run(command, &self.live).await),
                None => ("command".to_string(), Answer::fail(2, "this bot serves no commands on its socket")),
            },
        };
        let outcome = if answer.code == 0 { Outcome::Success } else { Outcome::Failure };
        let details = [("command", name), ("os_user", caller.describe()), ("exit", answer.code.to_string())];
        self.live.audit.note("control.request", None, outcome, &details).await;
        answer
    }

    async fn status_answer(&self) -> Answer {
        match self.status().await {
            Ok(status) => match serde_json::to_string_pretty(&status) {
                Ok(json) => Answer::ok(json),
                Err(e) => Answer::fail(1, e),
            },
            Err(e) => Answer::fail(1, e),
        }
    }

    /// The bot's state now.
    pub async fn status(&self) -> Result<Status, StoreError> {
        use std::sync::atomic::Ordering::Relaxed;
        let live = &self.live;
        let store_settings = &live.loaded.settings.store;
        let bytes = match store_settings.on_disk() {
            true => {
                let dir = store_settings.path.clone();
                Some(tokio::task::spawn_blocking(move || crate::health::disk_usage(&dir)).await.unwrap_or(0))
            }
            false => None,
        };
        let (open, overdue) = crate::watch::rights(&live.privacy, &*live.clock).await?;
        let last_check = live.last_check.lock().unwrap_or_else(PoisonError::into_inner).clone();
        Ok(Status {
            version: env!("CARGO_PKG_VERSION").to_string(),
            pid: std::process::id(),
            uptime_seconds: self.started.elapsed().as_secs(),
            adapters: crate::status::adapters(&self.board, &self.load, live.clock.now_ms()),
            queues: Queues {
                intake: self.load.intake(),
                waiting: self.load.waiting.load(Relaxed),
                handlers_running: self.load.running.load(Relaxed),
                outbox: self.outboxes.queued(),
            },
            store: StoreStatus {
                backend: format!("{:?}", store_settings.backend).to_lowercase(),
                path: store_settings.location(),
                bytes,
                subjects: live.store.subject_count().await?,
            },
            audit: AuditStatus { entries: live.audit.length().await?, last_check },
            rights_requests: RightsStatus { open, overdue },
            alerts_last_hour: self.alerts.raised_within(Duration::from_secs(3600)),
        })
    }
}

/// A bound control socket, not yet serving.
#[derive(Debug)]
pub struct Socket {
    path: PathBuf,
    listener: UnixListener,
    own: u32,
}

/// Binds the control socket at `path`: makes its directory private, replaces a socket a crashed process left
/// (after checking that nobody answers on it), refuses anything else in the way.
pub fn bind(path: &Path) -> Result<Socket, String> {
    let shown = path.display();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::private_file::create_private_dir(dir)
            .map_err(|e| format!("cannot make {} private for the control socket: {e}", dir.display()))?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(format!(
                    "another process answers on {shown}: is a bot already running with this data directory?"
                ));
            }
            std::fs::remove_file(path).map_err(|e| format!("cannot remove the stale socket {shown}: {e}"))?;
            tracing::warn!(socket = %shown, "replaced a control socket left by a process that is gone");
        }
        Ok(_) => {
            return Err(format!(
                "{shown} exists and is not a socket; move it away (the control socket goes there) or set `[control] socket`"
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot look at {shown}: {e}")),
    }
    let listener = UnixListener::bind(path).map_err(|e| format!("cannot listen on {shown}: {e}"))?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("cannot restrict {shown} to its owner: {e}"))?;
    }
    let own = peer::own_uid(Some(path)).ok_or_else(|| format!("cannot tell which user owns {shown}"))?;
    Ok(Socket { path: path.to_path_buf(), listener, own })
}

impl Socket {
    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Serves requests until `stop`, then removes the socket.
    pub async fn serve(self, control: Arc<Control>, stop: CancellationToken) {
        let turns = Arc::new(tokio::sync::Semaphore::new(CONCURRENT));
        let mut running = tokio::task::JoinSet::new();
        tracing::info!(socket = %self.path.display(), "control socket listening");
        loop {
            let accepted = tokio::select! {
                () = stop.cancelled() => break,
                accepted = self.listener.accept() => accepted,
            };
            let stream = match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "control socket: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let (control, turns, own) = (control.clone(), turns.clone(), self.own);
            running.spawn(async move {
                let Ok(_turn) = turns.acquire_owned().await else { return };
                serve_one(stream, &control, own).await;
            });
            while running.try_join_next().is_some() {}
        }
        // Requests in progress finish (an erasure half done would be worse than a slower stop).
        while running.join_next().await.is_some() {}
        if let Err(error) = std::fs::remove_file(&self.path) {
            tracing::warn!(%error, socket = %self.path.display(), "could not remove the control socket");
        }
    }
}

async fn serve_one(mut stream: UnixStream, control: &Control, own: u32) {
    let caller = match stream.peer_cred() {
        Ok(cred) => Caller { uid: cred.uid(), pid: cred.pid() },
        Err(error) => {
            tracing::warn!(%error, "control socket: cannot read the peer's credentials; closed");
            return;
        }
    };
    if !allowed(caller.uid, own) {
        crate::metrics::control_refused();
        tracing::warn!(caller = %caller.describe(), "control socket: refused a peer of another user");
        let details = [("os_user", caller.describe())];
        control.live.audit.note("control.refused", None, Outcome::Denied, &details).await;
        let refusal = Answer::fail(2, format!("{} may not use this bot's control socket", caller.describe()));
        let _ = wire::write_answer(&mut stream, &refusal).await;
        return;
    }
    let (reader, writer) = stream.split();
    let envelope = match tokio::time::timeout(REQUEST_WITHIN, wire::read_request(reader)).await {
        Ok(Ok(envelope)) => envelope,
        Ok(Err(e)) => {
            let _ = wire::write_answer(writer, &Answer::fail(2, e)).await;
            return;
        }
        Err(_) => return,
    };
    let answer = control.answer(envelope, &caller).await;
    if let Err(error) = wire::write_answer(writer, &answer).await {
        tracing::warn!(%error, "control socket: the command line left before the answer");
    }
}
