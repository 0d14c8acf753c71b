//! The dispatcher: takes events from every adapter, keeps them in order per conversation, runs them through
//! the layer stack with bounded concurrency across conversations, and delivers the replies.
//!
//! Layers, outermost first: [`TraceLayer`] → [`RateLimitLayer`] → [`RecoverLayer`] → [`TimeoutLayer`] → [`CatchPanicLayer`] →
//! [`IdentityLayer`] → the extra layers given to [`DispatcherBuilder::layer`] (rate limit, audit) → the
//! step-up [`crate::stepup::Gate`] → [`Router`].

mod catch_panic;
mod error;
mod identity;
mod outboxes;
mod ratelimit;
mod recover;
mod request;
mod router;
mod scheduler;
mod sweeper;
mod timeout;
mod trace;

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tower::ServiceBuilder;
use tower::util::BoxCloneSyncService;

pub use catch_panic::{CatchPanic, CatchPanicLayer};
pub use error::DispatchError;
pub use identity::{Access, Identity, IdentityLayer, Roles};
pub use outboxes::Outboxes;
pub use ratelimit::{Limiter, RateLimit, RateLimitLayer};
pub use recover::{APOLOGY, Recover, RecoverLayer};
pub use request::{Request, Response};
pub use router::{RESERVED, Router, RouterParts};
pub use timeout::{Timeout, TimeoutLayer};
pub use trace::{Trace, TraceLayer};

use crate::adapter::{Capabilities, Envelope, EventSink, Outbox};
use crate::clock::{SharedClock, TokioClock};
use crate::config::{DispatchSettings, FlowSettings};
use crate::event::Platform;
use crate::plugin::Plugin;
use crate::store::SharedStore;

/// The type-erased service the dispatcher calls for each event.
pub type EventService = BoxCloneSyncService<Request, Response, DispatchError>;

type LayerFn = Box<dyn FnOnce(EventService) -> EventService + Send>;

/// Configures a [`Dispatcher`].
pub struct DispatcherBuilder {
    plugins: Vec<Arc<dyn Plugin>>,
    store: SharedStore,
    clock: SharedClock,
    dispatch: DispatchSettings,
    flows: FlowSettings,
    access: Option<Arc<Access>>,
    bot_name: String,
    outboxes: Outboxes,
    layers: Vec<LayerFn>,
    require_for: std::collections::BTreeSet<String>,
    stepup: Option<Arc<crate::stepup::StepUp>>,
    audit: Option<Arc<crate::audit::Audit>>,
    alerts: Option<Arc<crate::alerts::Alerts>>,
    limiter: Option<Arc<Limiter>>,
    http: std::collections::HashMap<String, crate::integration::HttpClient>,
}

impl std::fmt::Debug for DispatcherBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DispatcherBuilder").field("plugins", &self.plugins.len()).finish_non_exhaustive()
    }
}

impl DispatcherBuilder {
    /// Uses `clock` for timestamps (default: [`TokioClock`]).
    #[must_use]
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Concurrency, queue and timeout settings.
    #[must_use]
    pub fn dispatch_settings(mut self, settings: DispatchSettings) -> Self {
        self.dispatch = settings;
        self
    }

    /// Flow timeout settings.
    #[must_use]
    pub fn flow_settings(mut self, settings: FlowSettings) -> Self {
        self.flows = settings;
        self
    }

    /// Role assignments (not reloadable; see [`DispatcherBuilder::access`]).
    #[must_use]
    pub fn roles(mut self, roles: Roles) -> Self {
        self.access = Some(Access::with_roles(roles));
        self
    }

    /// Roles and the blocklist, shared with the admin commands.
    #[must_use]
    pub fn access(mut self, access: Arc<Access>) -> Self {
        self.access = Some(access);
        self
    }

    /// The bot's name for greetings.
    #[must_use]
    pub fn bot_name(mut self, name: impl Into<String>) -> Self {
        self.bot_name = name.into();
        self
    }

    /// Delivers replies for `platform` through `outbox`.
    #[must_use]
    pub fn outbox(mut self, platform: Platform, outbox: Arc<dyn Outbox>, caps: Capabilities) -> Self {
        self.outboxes.insert(platform, outbox, caps);
        self
    }

    /// Installs step-up verification: the gate goes just outside the router, and `[stepup] require_for`
    /// makes more actions sensitive. Without it, sensitive actions are refused (fail closed).
    #[must_use]
    pub fn step_up(mut self, stepup: Arc<crate::stepup::StepUp>) -> Self {
        self.audit = Some(stepup.audit().clone());
        self.require_for = stepup.settings().require_for.iter().cloned().collect();
        self.stepup = Some(stepup);
        self
    }

    /// Applies rate limits (per user, per conversation, overall) before anything else runs.
    #[must_use]
    pub fn rate_limit(mut self, settings: crate::config::RateLimitSettings) -> Self {
        self.limiter = Some(Limiter::new(settings));
        self
    }

    /// The HTTP client of each plugin with allowed integrations.
    #[must_use]
    pub fn integrations(mut self, clients: std::collections::HashMap<String, crate::integration::HttpClient>) -> Self {
        self.http = clients;
        self
    }

    /// Where signals (message floods, rejected webhooks) are counted for alerts.
    #[must_use]
    pub fn alerts(mut self, alerts: Arc<crate::alerts::Alerts>) -> Self {
        self.alerts = Some(alerts);
        self
    }

    /// The audit trail handlers write to (default: one over the dispatcher's store). Step-up brings its own.
    #[must_use]
    pub fn audit(mut self, audit: Arc<crate::audit::Audit>) -> Self {
        self.audit = Some(audit);
        self
    }

    /// Adds a layer just outside the router (and the step-up gate); layers added later wrap those added earlier.
    #[must_use]
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: tower::Layer<EventService> + Send + 'static,
        L::Service: tower::Service<Request, Response = Response, Error = DispatchError> + Clone + Send + Sync + 'static,
        <L::Service as tower::Service<Request>>::Future: Send + 'static,
    {
        self.layers.push(Box::new(move |svc| BoxCloneSyncService::new(layer.layer(svc))));
        self
    }

    /// Builds the dispatcher. Fails when plugins declare conflicting commands.
    pub fn build(self) -> Result<Dispatcher, String> {
        let idle_ms = crate::clock::millis(self.flows.idle_timeout);
        let audit = self.audit.unwrap_or_else(|| crate::audit::Audit::new(self.store.clone(), self.clock.clone()));
        let (store, clock) = (self.store.clone(), self.clock.clone());
        let parts = RouterParts {
            store,
            clock,
            idle_ms,
            bot_name: self.bot_name,
            require_for: self.require_for,
            audit,
            http: self.http,
        };
        let router = Router::new(self.plugins, parts)?;
        let mut svc: EventService = BoxCloneSyncService::new(router.clone());
        if let Some(stepup) = self.stepup {
            svc = BoxCloneSyncService::new(tower::Layer::layer(&crate::stepup::GateLayer::new(stepup), svc));
        }
        for layer in self.layers {
            svc = layer(svc);
        }
        let svc = ServiceBuilder::new()
            .layer(TraceLayer)
            .option_layer(self.limiter.map(RateLimitLayer::new))
            .layer(RecoverLayer)
            .layer(TimeoutLayer::new(self.dispatch.handler_timeout))
            .layer(CatchPanicLayer)
            .layer(IdentityLayer::new(self.access.unwrap_or_else(|| Arc::new(Access::default()))))
            .service(svc);
        let (tx, rx) = mpsc::channel(self.dispatch.queue_capacity);
        Ok(Dispatcher {
            service: BoxCloneSyncService::new(svc),
            router,
            store: self.store,
            clock: self.clock,
            settings: self.dispatch,
            flow_settings: self.flows,
            outboxes: self.outboxes,
            tx,
            rx,
            alerts: self.alerts,
        })
    }
}

/// Runs events from adapters through the layer stack. Create with [`Dispatcher::builder`], hand
/// [`Dispatcher::sink`] to adapters, then [`Dispatcher::run`].
pub struct Dispatcher {
    service: EventService,
    router: Router,
    store: SharedStore,
    clock: SharedClock,
    settings: DispatchSettings,
    flow_settings: FlowSettings,
    outboxes: Outboxes,
    tx: mpsc::Sender<Envelope>,
    rx: mpsc::Receiver<Envelope>,
    alerts: Option<Arc<crate::alerts::Alerts>>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher").field("router", &self.router).finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// Starts configuring a dispatcher over `plugins` with state in `store`.
    pub fn builder(plugins: Vec<Arc<dyn Plugin>>, store: SharedStore) -> DispatcherBuilder {
        DispatcherBuilder {
            plugins,
            store,
            clock: Arc::new(TokioClock::new()),
            dispatch: DispatchSettings::default(),
            flows: FlowSettings::default(),
            access: None,
            bot_name: "Palisade".into(),
            outboxes: Outboxes::default(),
            layers: Vec::new(),
            require_for: Default::default(),
            stepup: None,
            audit: None,
            alerts: None,
            limiter: None,
            http: Default::default(),
        }
    }

    /// The intake adapters submit to.
    pub fn sink(&self) -> EventSink {
        EventSink::new(self.tx.clone(), self.alerts.clone().map(|a| a as Arc<dyn crate::services::Observer>))
    }

    /// Where replies go, per platform.
    pub fn outboxes(&self) -> &Outboxes {
        &self.outboxes
    }

    /// The router (for listing commands).
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// Handles events until `shutdown` is cancelled and every accepted event is done, then flushes the
    /// store. After cancellation, submissions fail with [`crate::SinkError::Closed`].
    pub async fn run(self, shutdown: CancellationToken) {
        let Self { service, router, store, clock, settings, flow_settings, outboxes, tx, rx, alerts } = self;
        drop(tx);
        let sweeper_stop = CancellationToken::new();
        let sweeper = tokio::spawn(sweeper::sweep_flows(
            router.flows().clone(),
            outboxes.clone(),
            clock,
            flow_settings.idle_timeout,
            flow_settings.sweep_interval,
            sweeper_stop.clone(),
        ));
        scheduler::Scheduler::new(service, outboxes, &settings, alerts).run(rx, shutdown).await;
        sweeper_stop.cancel();
        let _ = sweeper.await;
        match store.flush().await {
            Ok(()) => tracing::info!("dispatcher stopped; store flushed"),
            Err(error) => {
                tracing::error!(%error, "dispatcher stopped but the final store flush failed")
            }
        }
    }
}
