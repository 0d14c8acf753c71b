//! Assembles a running bot from configuration: the store, the plugins, the dispatcher and the adapters, and
//! runs them until shutdown.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::adapter::{Adapter, AdapterError};
use crate::alerts::Alerts;
use crate::clock::SharedClock;
use crate::config::{ConfigError, Loaded, Problem};
use crate::dispatch::Dispatcher;
use crate::plugin::Registry;
use crate::services::Connection;
use crate::store::StoreError;

mod plan;
mod services;

pub use plan::{AdapterChoice, Plan};
pub use services::Services;

/// Why a bot could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum BotError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An adapter failed.
    #[error(transparent)]
    Adapter(#[from] AdapterError),
}

/// A bot ready to run.
pub struct Bot {
    dispatcher: Dispatcher,
    adapters: Vec<Box<dyn Adapter>>,
    retention: crate::store::RetentionTask,
    backups: Option<crate::store::BackupTask>,
    alerts: (Arc<Alerts>, mpsc::UnboundedReceiver<crate::alerts::Notice>),
    monitoring: Option<std::net::SocketAddr>,
    watch: crate::watch::Watch,
    control: crate::control::Control,
    socket: Option<std::path::PathBuf>,
    reloader: Arc<crate::reload::Reloader>,
    /// The replica name held in a shared store.
    membership: Option<crate::replicas::Membership>,
}

impl std::fmt::Debug for Bot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bot").field("adapters", &self.adapters.len()).finish_non_exhaustive()
    }
}

impl Bot {
    /// Builds the bot `loaded` describes, running the adapters `choice` picks.
    pub async fn build(loaded: &Loaded, registry: &Registry, choice: AdapterChoice) -> Result<Self, BotError> {
        let Plan { plugins, mut adapters } = Plan::new(loaded, registry, choice.clone())?;
        let settings = &loaded.settings;
        let config_error = |p: Problem| ConfigError { file: loaded.file.clone(), problems: vec![p] };
        let clock: SharedClock = crate::clock::SystemClock::shared();
        let records = crate::store::open_records(&settings.store, clock.clone()).await?;
        let store: crate::store::SharedStore = records.clone();
        // Before anything is written: a second process under this replica name would share its journal.
        let membership = match settings.store.backend {
            crate::config::StoreBackend::Redis => Some(
                crate::replicas::Membership::join(store.clone(), clock.clone(), &settings.dispatch.replica)
                    .await
                    .map_err(|e| match e {
                        crate::replicas::JoinError::Store(e) => BotError::Store(e),
                        taken => config_error(Problem::at("dispatch.replica", taken.to_string())).into(),
                    })?,
            ),
            _ => None,
        };
        let mut services = Services::new(store.clone(), clock.clone(), settings, loaded.file.clone()).await?;
        let config_hash = crate::crypto::hex(&crate::crypto::digest(loaded.text.as_bytes()));
        services.audit.record("config.loaded", None, crate::audit::Outcome::Info, &[("sha", config_hash)]).await?;
        let http = plan::http_clients(settings, &services.audit).map_err(config_error)?;
        let (plugins, privacy) = services.with_builtins(plugins);
        let manifests = privacy.manifests().to_vec();
        let rules = crate::store::retention_rules(&manifests, &settings.store.retention());
        let retention = crate::store::RetentionTask {
            store: store.clone(),
            clock: clock.clone(),
            ttl: Arc::new(std::sync::RwLock::new(rules)),
            every: settings.store.sweep_interval,
        };
        let backups = settings.store.backup.dir.clone().map(|dir| crate::store::BackupTask {
            store: records.clone(),
            dir,
            every: settings.store.backup.every,
            keep: settings.store.backup.keep,
            audit: services.audit.clone(),
        });
        let commands = commands_of(&plugins);
        let mut builder = services.dispatcher(plugins).integrations(http);
        for a in &mut adapters {
            a.register_commands(&commands);
            let listens = a.listens().into_iter().map(|(_, addr)| addr.to_string()).collect::<Vec<_>>();
            services.board.add(a.platform(), (!listens.is_empty()).then(|| listens.join(", ")));
            builder = builder.adapter(&**a);
        }
        let dispatcher = builder.build().map_err(|e| config_error(Problem::at("plugins", e)))?;
        services.connect(&dispatcher);
        let reloader = crate::reload::Reloader::new(crate::reload::Parts {
            loaded: loaded.clone(),
            registry: registry.clone(),
            choice,
            access: services.access.clone(),
            limiter: dispatcher.limiter().cloned(),
            alerts: services.alerts.clone(),
            stepup: services.stepup.clone(),
            router: dispatcher.router().clone(),
            retention: retention.ttl.clone(),
            manifests,
            audit: services.audit.clone(),
        });
        let _ = services.reloader.set(reloader.clone());
        let notices = services.notices.take();
        let alerts = (services.alerts.clone(), notices.unwrap_or_else(|| mpsc::unbounded_channel().1));
        let last_check = crate::watch::LastCheck::default();
        let watch = crate::watch::Watch {
            load: dispatcher.load().clone(),
            outboxes: dispatcher.outboxes().clone(),
            data_dir: settings.store.on_disk().then(|| settings.store.path.clone()),
            privacy: privacy.clone(),
            audit: services.audit.clone(),
            audit_every: settings.monitoring.audit_verify_every,
            last_check: last_check.clone(),
            clock: clock.clone(),
        };
        let control = crate::control::Control {
            live: crate::control::Live {
                loaded: loaded.clone(),
                store,
                records: Some(records),
                audit: services.audit.clone(),
                privacy,
                stepup: services.stepup.clone(),
                clock,
                last_check,
            },
            board: services.board.clone(),
            load: dispatcher.load().clone(),
            outboxes: dispatcher.outboxes().clone(),
            alerts: services.alerts.clone(),
            reloader: reloader.clone(),
            commands: None,
            started: tokio::time::Instant::now(),
        };
        let socket = settings.control.enabled.then(|| settings.control_socket());
        let monitoring = settings.monitoring.listen;
        Ok(Self {
            dispatcher,
            adapters,
            retention,
            backups,
            alerts,
            monitoring,
            watch,
            control,
            socket,
            reloader,
            membership,
        })
    }

    /// Serves `commands` (the command line's `user`, `audit` and `store` subcommands) on the control socket
    /// besides `status` and `reload`.
    #[must_use]
    pub fn serve_commands(mut self, commands: Arc<dyn crate::control::Commands>) -> Self {
        self.control.commands = Some(commands);
        self
    }

    /// What applies a changed configuration (for SIGHUP).
    pub fn reloader(&self) -> Arc<crate::reload::Reloader> {
        self.reloader.clone()
    }

    /// Runs until `shutdown` is cancelled or every adapter has finished (the console at end of input); see
    /// [`Bot::run_until`].
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), BotError> {
        self.run_until(shutdown, CancellationToken::new()).await
    }

    /// Runs until `shutdown` is cancelled or every adapter has finished. Then stops intake, lets running
    /// handlers finish and queued replies leave within `[dispatch] shutdown_grace`, and flushes the store;
    /// cancelling `now` skips the waiting (unfinished work stays in the journal for the next start).
    pub async fn run_until(self, shutdown: CancellationToken, now: CancellationToken) -> Result<(), BotError> {
        let stop_dispatch = CancellationToken::new();
        let ready = crate::health::Readiness::default();
        let monitor = match self.monitoring {
            Some(addr) => Some(tokio::spawn(monitor(addr, ready.clone(), stop_dispatch.clone()).await?)),
            None => None,
        };
        let fail = |reason: String| AdapterError::Start { platform: crate::Platform::CONSOLE, reason };
        let socket = self.socket.as_deref().map(crate::control::bind).transpose().map_err(fail)?;
        let board = self.control.board.clone();
        let control = socket.map(|socket| tokio::spawn(socket.serve(Arc::new(self.control), stop_dispatch.clone())));
        let watch = tokio::spawn(self.watch.run(stop_dispatch.clone()));
        // The name is given back only once the dispatcher has stopped writing the journal under it.
        let release = CancellationToken::new();
        let membership = self.membership.map(|m| tokio::spawn(m.run(release.clone())));
        let sink = self.dispatcher.sink();
        let (alerts, alert_rx) = self.alerts;
        let alert_task = tokio::spawn(crate::alerts::deliver(alerts, alert_rx, self.dispatcher.outboxes().clone()));
        let dispatcher = tokio::spawn(self.dispatcher.run_until(stop_dispatch.clone(), now.clone()));
        let retention = tokio::spawn(self.retention.run(stop_dispatch.clone()));
        let backups = self.backups.map(|task| tokio::spawn(task.run(stop_dispatch.clone())));
        let mut adapters = JoinSet::new();
        for adapter in self.adapters {
            let platform = adapter.platform();
            tracing::info!(%platform, "adapter starting");
            if platform == crate::Platform::CONSOLE {
                board.set(platform, Connection::Connected);
            } else if let Some(addr) = board.listens(platform) {
                board.set(platform, Connection::Listening(addr));
            }
            let run = adapter.run(sink.clone(), shutdown.child_token());
            adapters.spawn(async move { (platform, run.await) });
        }
        drop(sink);
        ready.set(true);
        let mut failure = None;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                joined = adapters.join_next() => match joined {
                    None => break,
                    Some(Ok((platform, Ok(())))) => board.set(platform, Connection::Stopped),
                    Some(Ok((platform, Err(e)))) => {
                        board.set(platform, Connection::Stopped);
                        failure = Some(e);
                        break;
                    }
                    Some(Err(e)) => { tracing::error!(error = %e, "an adapter task panicked"); break; }
                },
            }
        }
        ready.set(false);
        shutdown.cancel();
        while let Some(joined) = adapters.join_next().await {
            if let Ok((platform, _)) = joined {
                board.set(platform, Connection::Stopped);
            }
        }
        stop_dispatch.cancel();
        let _ = retention.await;
        if let Some(backups) = backups {
            let _ = backups.await;
        }
        if let Err(e) = dispatcher.await {
            tracing::error!(error = %e, "the dispatcher task panicked");
        }
        alert_task.abort();
        release.cancel();
        if let Some(membership) = membership {
            let _ = membership.await;
        }
        let _ = watch.await;
        if let Some(control) = control {
            let _ = control.await;
        }
        if let Some(m) = monitor {
            let _ = m.await;
        }
        failure.map_or(Ok(()), |e| Err(e.into()))
    }
}

/// Binds the monitoring endpoint now (a taken port is a start-up error) and returns its server.
async fn monitor(
    addr: std::net::SocketAddr,
    ready: crate::health::Readiness,
    stop: CancellationToken,
) -> Result<impl Future<Output = ()> + use<>, BotError> {
    let fail = |reason: String| AdapterError::Start { platform: crate::Platform::CONSOLE, reason };
    let handle = crate::metrics::install().map_err(fail)?;
    let (local, server) = crate::health::serve(addr, handle, ready, stop).await.map_err(fail)?;
    tracing::info!(%local, "monitoring endpoint listening");
    Ok(server)
}

/// Every command the bot answers, for platforms that register commands up front.
fn commands_of(plugins: &[Arc<dyn crate::plugin::Plugin>]) -> Vec<crate::plugin::Command> {
    let mut commands: Vec<crate::plugin::Command> = plugins.iter().flat_map(|p| p.commands()).collect();
    commands.push(crate::plugin::Command::new("cancel", "Stop what you are in the middle of"));
    commands.push(crate::plugin::Command::new("help", "What I can do"));
    commands
}
