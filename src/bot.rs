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
    data_dir: std::path::PathBuf,
}

impl std::fmt::Debug for Bot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bot").field("adapters", &self.adapters.len()).finish_non_exhaustive()
    }
}

impl Bot {
    /// Builds the bot `loaded` describes, running the adapters `choice` picks.
    pub async fn build(loaded: &Loaded, registry: &Registry, choice: AdapterChoice) -> Result<Self, BotError> {
        let Plan { plugins, mut adapters } = Plan::new(loaded, registry, choice)?;
        let settings = &loaded.settings;
        let config_error = |p: Problem| ConfigError { file: loaded.file.clone(), problems: vec![p] };
        let clock: SharedClock = crate::clock::SystemClock::shared();
        let records = crate::store::open_records(&settings.store, clock.clone()).await?;
        let store: crate::store::SharedStore = records.clone();
        let mut services = Services::new(store.clone(), clock.clone(), settings, loaded.file.clone()).await?;
        let config_hash = crate::crypto::hex(&crate::crypto::digest(loaded.text.as_bytes()));
        services.audit.record("config.loaded", None, crate::audit::Outcome::Info, &[("sha", config_hash)]).await?;
        let http = plan::http_clients(settings, &services.audit).map_err(config_error)?;
        let (plugins, privacy) = services.with_builtins(plugins);
        let retention = crate::store::RetentionTask {
            store,
            clock,
            ttl: settings.store.retention(),
            every: settings.store.sweep_interval,
        }
        .with_manifests(privacy.manifests(), &settings.store.retention());
        let backups = settings.store.backup.dir.clone().map(|dir| crate::store::BackupTask {
            store: records,
            dir,
            every: settings.store.backup.every,
            keep: settings.store.backup.keep,
            audit: services.audit.clone(),
        });
        let commands = commands_of(&plugins);
        let mut builder = services.dispatcher(plugins).integrations(http);
        for a in &mut adapters {
            a.register_commands(&commands);
            builder = builder.adapter(&**a);
        }
        let dispatcher = builder.build().map_err(|e| config_error(Problem::at("plugins", e)))?;
        services.connect(&dispatcher);
        let notices = services.notices.take();
        let alerts = (services.alerts.clone(), notices.unwrap_or_else(|| mpsc::unbounded_channel().1));
        let (monitoring, data_dir) = (settings.monitoring.listen, settings.store.path.clone());
        Ok(Self { dispatcher, adapters, retention, backups, alerts, monitoring, data_dir })
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
            Some(addr) => Some(tokio::spawn(self.monitor(addr, ready.clone(), stop_dispatch.clone()).await?)),
            None => None,
        };
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
            adapters.spawn(adapter.run(sink.clone(), shutdown.child_token()));
        }
        drop(sink);
        ready.set(true);
        let mut failure = None;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                joined = adapters.join_next() => match joined {
                    None => break,
                    Some(Ok(Ok(()))) => {}
                    Some(Ok(Err(e))) => { failure = Some(e); break; }
                    Some(Err(e)) => { tracing::error!(error = %e, "an adapter task panicked"); break; }
                },
            }
        }
        ready.set(false);
        shutdown.cancel();
        while adapters.join_next().await.is_some() {}
        stop_dispatch.cancel();
        let _ = retention.await;
        if let Some(backups) = backups {
            let _ = backups.await;
        }
        if let Err(e) = dispatcher.await {
            tracing::error!(error = %e, "the dispatcher task panicked");
        }
        alert_task.abort();
        if let Some(m) = monitor {
            let _ = m.await;
        }
        failure.map_or(Ok(()), |e| Err(e.into()))
    }

    /// Binds the monitoring endpoint now (a taken port is a start-up error) and returns its server.
    async fn monitor(
        &self,
        addr: std::net::SocketAddr,
        ready: crate::health::Readiness,
        stop: CancellationToken,
    ) -> Result<impl Future<Output = ()> + use<>, BotError> {
        let fail = |reason: String| AdapterError::Start { platform: crate::Platform::CONSOLE, reason };
        let handle = crate::metrics::install().map_err(fail)?;
        let (local, server) =
            crate::health::serve(addr, handle, ready, self.data_dir.clone(), stop).await.map_err(fail)?;
        tracing::info!(%local, "monitoring endpoint listening");
        Ok(server)
    }
}

/// Every command the bot answers, for platforms that register commands up front.
fn commands_of(plugins: &[Arc<dyn crate::plugin::Plugin>]) -> Vec<crate::plugin::Command> {
    let mut commands: Vec<crate::plugin::Command> = plugins.iter().flat_map(|p| p.commands()).collect();
    commands.push(crate::plugin::Command::new("cancel", "Stop what you are in the middle of"));
    commands.push(crate::plugin::Command::new("help", "What I can do"));
    commands
}
