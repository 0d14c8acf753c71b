//! Assembles a running bot from configuration: the store, the plugins, the dispatcher and the adapters, and
//! runs them until shutdown.

use std::sync::Arc;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::adapter::{Adapter, AdapterError};
use crate::clock::{SharedClock, TokioClock};
use crate::config::{ConfigError, Loaded, Problem, Section, Settings};
use crate::dispatch::{Dispatcher, Roles, Router};
use crate::plugin::{Plugin, Registry};
use crate::store::StoreError;

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

/// Which adapters to run.
#[derive(Clone, Debug, Default)]
pub enum AdapterChoice {
    /// Every enabled `[adapters.*]` table (`palisade run`).
    #[default]
    Configured,
    /// Only the console, optionally as another user (`palisade chat --as NAME`).
    ConsoleOnly(Option<String>),
}

/// The plugins and adapters a configuration asks for, built and checked but not started.
pub struct Plan {
    /// Enabled plugins.
    pub plugins: Vec<Arc<dyn Plugin>>,
    /// Adapters to run.
    pub adapters: Vec<Box<dyn Adapter>>,
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plugins: Vec<_> = self.plugins.iter().map(|p| p.name()).collect();
        let adapters: Vec<_> = self.adapters.iter().map(|a| a.platform()).collect();
        f.debug_struct("Plan").field("plugins", &plugins).field("adapters", &adapters).finish()
    }
}

impl Plan {
    /// Builds everything `loaded` enables and reports every problem found (unknown plugins or adapters,
    /// bad tables, no adapter at all, clashing commands) without opening the store or any connection.
    pub fn new(loaded: &Loaded, registry: &Registry, choice: AdapterChoice) -> Result<Self, ConfigError> {
        let settings = &loaded.settings;
        let mut problems = Vec::new();
        let plugins = registry.build_plugins(settings).unwrap_or_else(|mut p| {
            problems.append(&mut p);
            Vec::new()
        });
        let adapters = match choice {
            AdapterChoice::Configured => registry.build_adapters(settings, None),
            AdapterChoice::ConsoleOnly(user) => console_only(settings, user),
        }
        .unwrap_or_else(|mut p| {
            problems.append(&mut p);
            Vec::new()
        });
        if adapters.is_empty() && problems.is_empty() {
            problems
                .push(Problem::at("adapters", "no adapter is enabled; add `[adapters.console]` or a platform table"));
        }
        let key_file = settings.store.master_key_file.as_ref();
        let created_on_start = settings.store.create_key_file && key_file.is_some_and(|f| !f.exists());
        if !created_on_start && let Err(e) = crate::store::load_master_key(&settings.store) {
            problems.push(Problem::at("store", e.to_string()));
        }
        for p in &plugins {
            if p.commands().iter().any(|c| c.name == "2fa") {
                problems.push(Problem::at(format!("plugins.{}", p.name()), "declares /2fa, which is built in"));
            }
        }
        if let Err(e) = Router::command_table(&plugins) {
            problems.push(Problem::at("plugins", e));
        }
        if problems.is_empty() {
            Ok(Self { plugins, adapters })
        } else {
            Err(ConfigError { file: loaded.file.clone(), problems })
        }
    }
}

fn console_only(settings: &Settings, user: Option<String>) -> Result<Vec<Box<dyn Adapter>>, Vec<Problem>> {
    let table = settings.adapters.get("console").cloned().unwrap_or_default();
    let section = Section::new("adapters.console", table).map_err(|p| vec![p])?;
    Ok(vec![Box::new(crate::console::from_section(&section, settings, user)?)])
}

/// A bot ready to run.
pub struct Bot {
    dispatcher: Dispatcher,
    adapters: Vec<Box<dyn Adapter>>,
    retention: Retention,
}

/// The background retention sweep: what to sweep, how often.
struct Retention {
    store: crate::store::SharedStore,
    clock: SharedClock,
    ttl: std::collections::BTreeMap<String, std::time::Duration>,
    every: std::time::Duration,
}

impl Retention {
    async fn run(self, stop: CancellationToken) {
        if self.ttl.is_empty() {
            return;
        }
        let mut tick = tokio::time::interval(self.every);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            if let Err(error) = crate::store::sweep_expired(&*self.store, &self.ttl, &*self.clock) {
                tracing::warn!(%error, "retention sweep failed; will retry");
            }
        }
    }
}

impl std::fmt::Debug for Bot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bot").field("adapters", &self.adapters.len()).finish_non_exhaustive()
    }
}

impl Bot {
    /// Builds the bot `loaded` describes, running the adapters `choice` picks.
    pub fn build(loaded: &Loaded, registry: &Registry, choice: AdapterChoice) -> Result<Self, BotError> {
        let Plan { mut plugins, adapters } = Plan::new(loaded, registry, choice)?;
        let settings = &loaded.settings;
        let clock: SharedClock = Arc::new(TokioClock::new());
        let store = crate::store::open(&settings.store, clock.clone())?;
        let retention = Retention {
            store: store.clone(),
            clock: clock.clone(),
            ttl: settings.store.retention(),
            every: settings.store.sweep_interval,
        };
        let audit = crate::audit::Audit::new(store.clone(), clock.clone());
        let config_hash: String =
            crate::crypto::digest(loaded.text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        audit.record("config.loaded", None, crate::audit::Outcome::Info, &[("sha", config_hash)])?;
        let stepup = crate::stepup::StepUp::new(store.clone(), audit, settings.stepup.clone(), clock.clone());
        plugins.push(Arc::new(crate::stepup::TwoFactor::new(stepup.clone())));
        let mut builder = Dispatcher::builder(plugins, store)
            .step_up(stepup)
            .clock(clock)
            .dispatch_settings(settings.dispatch.clone())
            .flow_settings(settings.flows.clone())
            .roles(Roles::from_config(&settings.roles))
            .bot_name(settings.bot.name.clone());
        for a in &adapters {
            builder = builder.outbox(a.platform(), a.outbox(), a.capabilities());
        }
        let dispatcher = builder
            .build()
            .map_err(|e| ConfigError { file: loaded.file.clone(), problems: vec![Problem::at("plugins", e)] })?;
        Ok(Self { dispatcher, adapters, retention })
    }

    /// Runs until `shutdown` is cancelled or every adapter has finished (the console at end of input). Then
    /// stops intake, lets accepted events finish and flushes the store.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), BotError> {
        let sink = self.dispatcher.sink();
        let stop_dispatch = CancellationToken::new();
        let dispatcher = tokio::spawn(self.dispatcher.run(stop_dispatch.clone()));
        let retention = tokio::spawn(self.retention.run(stop_dispatch.clone()));
        let mut adapters = JoinSet::new();
        for adapter in self.adapters {
            let platform = adapter.platform();
            tracing::info!(%platform, "adapter starting");
            adapters.spawn(adapter.run(sink.clone(), shutdown.child_token()));
        }
        drop(sink);
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
        shutdown.cancel();
        while adapters.join_next().await.is_some() {}
        stop_dispatch.cancel();
        let _ = retention.await;
        if let Err(e) = dispatcher.await {
            tracing::error!(error = %e, "the dispatcher task panicked");
        }
        failure.map_or(Ok(()), |e| Err(e.into()))
    }
}
