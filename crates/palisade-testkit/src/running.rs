//! A real adapter running with the whole runtime stack (as `palisade run` composes it) against a test's
//! fake of its platform.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use palisade::bot::Services;
use palisade::clock::TokioClock;
use palisade::config::Settings;
use palisade::store::SharedStore;
use palisade_core::{Adapter, AdapterError, Command, Connection, Observer, Platform, Plugin};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// What the adapter reported besides events: requests it rejected (forged, stale, replayed) and its
/// connection states.
#[derive(Debug, Default)]
pub struct Rejections {
    rejected: Mutex<Vec<String>>,
    states: Mutex<Vec<Connection>>,
}

impl Observer for Rejections {
    fn rejected(&self, _platform: Platform, reason: &str) {
        self.rejected.lock().unwrap_or_else(PoisonError::into_inner).push(reason.to_string());
    }

    fn connection(&self, _platform: Platform, state: Connection) {
        self.states.lock().unwrap_or_else(PoisonError::into_inner).push(state);
    }
}

impl Rejections {
    /// The reasons reported so far.
    pub fn all(&self) -> Vec<String> {
        self.rejected.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The connection states reported so far, in order.
    pub fn states(&self) -> Vec<Connection> {
        self.states.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// An adapter feeding a real dispatcher with every service layered around it.
pub struct Running {
    /// What the adapter reported as rejected.
    pub rejections: Arc<Rejections>,
    /// Where the adapter's webhook listens, once it does (see [`Running::listening`]).
    pub listening: Option<std::net::SocketAddr>,
    stop_adapter: CancellationToken,
    adapter: JoinHandle<Result<(), AdapterError>>,
    stop_dispatch: CancellationToken,
    dispatcher: JoinHandle<()>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running").finish_non_exhaustive()
    }
}

impl Running {
    /// Runs `adapter` with `plugins` (and the built-in ones) over `store`, configured by `settings`.
    ///
    /// # Panics
    /// When the stack cannot be built.
    pub async fn start(
        adapter: Box<dyn Adapter>,
        store: SharedStore,
        plugins: Vec<Arc<dyn Plugin>>,
        settings: Settings,
    ) -> Self {
        let services = Services::new(store, TokioClock::shared(), &settings, "palisade.toml".into())
            .await
            .unwrap_or_else(|e| panic!("the services build: {e}"));
        Self::with_services(adapter, services, plugins)
    }

    /// Runs `adapter` with `plugins` (and the built-in ones) over already built `services`.
    ///
    /// # Panics
    /// When the dispatcher cannot be built.
    pub fn with_services(mut adapter: Box<dyn Adapter>, services: Services, plugins: Vec<Arc<dyn Plugin>>) -> Self {
        crate::logs::capture();
        let (plugins, _) = services.with_builtins(plugins);
        let commands: Vec<Command> = plugins.iter().flat_map(|p| p.commands()).collect();
        adapter.register_commands(&commands);
        let rejections = Arc::new(Rejections::default());
        let dispatcher = services
            .dispatcher(plugins)
            .observer(rejections.clone())
            .adapter(&*adapter)
            .build()
            .unwrap_or_else(|e| panic!("the dispatcher builds: {e}"));
        services.connect(&dispatcher);
        let sink = dispatcher.sink();
        let stop_dispatch = CancellationToken::new();
        let dispatcher = tokio::spawn(dispatcher.run(stop_dispatch.clone()));
        let stop_adapter = CancellationToken::new();
        let adapter = tokio::spawn(adapter.run(sink, stop_adapter.clone()));
        Self { rejections, listening: None, stop_adapter, adapter, stop_dispatch, dispatcher }
    }

    /// Waits (at most 20 s) until `listening` (the adapter's published address) has an address, and keeps it.
    ///
    /// # Panics
    /// When the adapter does not listen in time.
    #[must_use]
    pub async fn listening(
        mut self,
        mut listening: tokio::sync::watch::Receiver<Option<std::net::SocketAddr>>,
    ) -> Self {
        let bound = tokio::time::timeout(Duration::from_secs(20), listening.wait_for(Option::is_some)).await;
        self.listening = match bound {
            Ok(Ok(addr)) => *addr,
            _ => panic!("the adapter did not start listening within 20 s"),
        };
        self
    }

    /// Stops the adapter, then the dispatcher; returns how the adapter ended.
    ///
    /// # Panics
    /// When a task panicked.
    pub async fn stop(self) -> Result<(), AdapterError> {
        self.stop_adapter.cancel();
        let ended = self.adapter.await.unwrap_or_else(|e| panic!("the adapter task ended: {e}"));
        self.stop_dispatch.cancel();
        self.dispatcher.await.unwrap_or_else(|e| panic!("the dispatcher task ended: {e}"));
        ended
    }

    /// Waits (at most 20 s) for the adapter to end by itself (a failure, say), then stops the dispatcher.
    ///
    /// # Panics
    /// When the adapter does not end in time, or a task panicked.
    pub async fn ended(self) -> Result<(), AdapterError> {
        let ended = tokio::time::timeout(Duration::from_secs(20), self.adapter).await;
        self.stop_dispatch.cancel();
        self.dispatcher.await.unwrap_or_else(|e| panic!("the dispatcher task ended: {e}"));
        match ended {
            Ok(result) => result.unwrap_or_else(|e| panic!("the adapter task ended: {e}")),
            Err(_) => panic!("the adapter did not end within 20 s"),
        }
    }
}
