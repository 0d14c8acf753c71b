//! Assembles a running bot from configuration: the store, the plugins, the dispatcher and the adapters, and
//! runs them until shutdown.

use std::sync::Arc;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::adapter::{Adapter, AdapterError};
use crate::clock::{SharedClock, TokioClock};
use crate::config::{ConfigError, Loaded, Problem, Settings, StoreBackend};
use crate::dispatch::{Dispatcher, Roles};
use crate::plugin::Registry;
use crate::store::{MemoryBackend, RecordStore, SharedStore, SledBackend, StoreError};

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
}

impl std::fmt::Debug for Bot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bot")
            .field("adapters", &self.adapters.len())
            .finish_non_exhaustive()
    }
}

/// Opens the store `[store]` describes.
pub fn open_store(settings: &Settings, clock: SharedClock) -> Result<SharedStore, StoreError> {
    let backend: Arc<dyn crate::store::Backend> = match settings.store.backend {
        StoreBackend::Sled => Arc::new(SledBackend::open(&settings.store.path)?),
        StoreBackend::Memory => Arc::new(MemoryBackend::new()),
    };
    Ok(Arc::new(RecordStore::new(backend, clock)))
}

impl Bot {
    /// Builds the bot `loaded` describes. With `adapters` given, those run instead of the configured ones
    /// (`palisade chat` passes just the console).
    pub fn build(
        loaded: &Loaded,
        registry: &Registry,
        adapters: Option<Vec<Box<dyn Adapter>>>,
    ) -> Result<Self, BotError> {
        let settings = &loaded.settings;
        let config_error = |problems: Vec<Problem>| ConfigError {
            file: loaded.file.clone(),
            problems,
        };
        let plugins = registry.build_plugins(settings).map_err(config_error)?;
        let adapters = match adapters {
            Some(a) => a,
            None => registry.build_adapters(settings, None).map_err(config_error)?,
        };
        if adapters.is_empty() {
            return Err(config_error(vec![Problem::at(
                "adapters",
                "no adapter is enabled; add `[adapters.console]` or a platform table",
            )])
            .into());
        }
        let clock: SharedClock = Arc::new(TokioClock::new());
        let store = open_store(settings, clock.clone())?;
        let mut builder = Dispatcher::builder(plugins, store)
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
            .map_err(|e| config_error(vec![Problem::at("plugins", e)]))?;
        Ok(Self { dispatcher, adapters })
    }

    /// Runs until `shutdown` is cancelled or every adapter has finished (the console at end of input). Then
    /// stops intake, lets accepted events finish and flushes the store.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), BotError> {
        let sink = self.dispatcher.sink();
        let stop_dispatch = CancellationToken::new();
        let dispatcher = tokio::spawn(self.dispatcher.run(stop_dispatch.clone()));
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
        if let Err(e) = dispatcher.await {
            tracing::error!(error = %e, "the dispatcher task panicked");
        }
        failure.map_or(Ok(()), |e| Err(e.into()))
    }
}
