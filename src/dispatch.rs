//! The dispatcher: takes events from every adapter, keeps them in order per conversation, runs them through
//! the layer stack with bounded concurrency across conversations, and delivers the replies.
//!
//! Before the layers, the intake (`intake`) drops repeated deliveries and events over their rate limits, and
//! journals the rest; the scheduler (`conversations`) runs them fairly, one at a time per conversation; the
//! send scheduler ([`Outboxes`]) delivers the replies, paced to each platform's limits.
//!
//! Layers, outermost first: [`TraceLayer`] → [`ApologizeLayer`] → [`TimeoutLayer`] →
//! [`CatchPanicLayer`] → [`AccessLayer`] → the layers given to [`DispatcherBuilder::layer`], last added
//! outermost → [`Router`]. The dispatcher knows none of the services composed around it: a bot adds the
//! step-up gate, consent and alert counting with `.layer(..)` (see `crate::bot`).

mod access;
mod apology;
mod buttons;
mod catch_panic;
mod conversations;
mod error;
mod intake;
mod ratelimit;
mod request;
mod router;
mod sweeper;
mod takeover;
mod text;
mod timeout;
mod trace;

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tower::ServiceBuilder;
use tower::util::BoxCloneSyncService;

pub use crate::outboxes::Outboxes;
pub use access::{Access, AccessControl, AccessLayer, Roles};
pub use apology::{APOLOGY, Apologize, ApologizeLayer};
pub use buttons::{Pressed, open as open_button, seal as seal_button};
pub use catch_panic::{CatchPanic, CatchPanicLayer};
pub use conversations::SKIPPED;
pub use error::DispatchError;
pub use ratelimit::{Limiter, SLOW_DOWN, Verdict};
pub use request::{Done, Request, Response};
pub use router::{RESERVED, Router, RouterParts};
pub use text::ONLY_COMMANDS;
pub use timeout::{Timeout, TimeoutLayer};
pub use trace::{Trace, TraceLayer};

use crate::adapter::{Capabilities, Envelope, EventSink, Outbox};
use crate::clock::{SharedClock, SystemClock};
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
    policy: crate::plugin::ScopePolicy,
    audit: Option<Arc<dyn crate::services::AuditLog>>,
    observer: Option<Arc<dyn crate::services::Observer>>,
    limiter: Option<Arc<Limiter>>,
    http: std::collections::HashMap<String, Arc<dyn crate::services::Http>>,
    texts: Arc<palisade_core::texts::Texts>,
}

impl std::fmt::Debug for DispatcherBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DispatcherBuilder").field("plugins", &self.plugins.len()).finish_non_exhaustive()
    }
}

impl DispatcherBuilder {
    /// Words built-in texts as `texts` says (default: the English catalogue).
    #[must_use]
    pub fn texts(mut self, texts: Arc<palisade_core::texts::Texts>) -> Self {
        self.texts = texts;
        self
    }

    /// Uses `clock` for timestamps (default: [`SystemClock`]; tests pass a `TokioClock`).
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

    /// Delivers replies for `platform` through `outbox`, unpaced.
    #[must_use]
    pub fn outbox(mut self, platform: Platform, outbox: Arc<dyn Outbox>, caps: Capabilities) -> Self {
        self.outboxes.insert(platform, outbox, caps);
        self
    }

    /// Delivers replies for `adapter`'s platform through its outbox, paced by its send policy.
    #[must_use]
    pub fn adapter(mut self, adapter: &dyn crate::adapter::Adapter) -> Self {
        let (outbox, caps, policy) = (adapter.outbox(), adapter.capabilities(), adapter.send_policy());
        self.outboxes.insert_paced(adapter.platform(), outbox, caps, policy);
        self
    }

    /// Scopes (`plugin.action`) that need step-up verification besides commands declared sensitive
    /// (`[stepup] require_for`). Without a step-up gate among the layers, sensitive actions are refused
    /// (fail closed).
    #[must_use]
    pub fn require_for(mut self, scopes: impl IntoIterator<Item = String>) -> Self {
        self.policy.require_for = scopes.into_iter().collect();
        self
    }

    /// Scopes whose verification approves one execution only (`[stepup] single_use`), instead of granting
    /// the scope in that conversation for `grant_ttl`.
    #[must_use]
    pub fn single_use(mut self, scopes: impl IntoIterator<Item = String>) -> Self {
        self.policy.single_use = scopes.into_iter().collect();
        self
    }

    /// Applies rate limits (per user, per conversation, overall) before anything else runs.
    #[must_use]
    pub fn rate_limit(mut self, settings: crate::config::RateLimitSettings) -> Self {
        self.limiter = Some(Limiter::new(settings));
        self
    }

    /// The HTTP client of each plugin with allowed integrations, by plugin name.
    #[must_use]
    pub fn integrations(mut self, clients: std::collections::HashMap<String, Arc<dyn crate::services::Http>>) -> Self {
        self.http = clients;
        self
    }

    /// Who counts requests that adapters rejected (forged, stale, replayed) for metrics and alerts.
    #[must_use]
    pub fn observer(mut self, observer: Arc<dyn crate::services::Observer>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The audit trail handlers write to with `Ctx::audit` (default: one over the dispatcher's store).
    #[must_use]
    pub fn audit(mut self, audit: Arc<dyn crate::services::AuditLog>) -> Self {
        self.audit = Some(audit);
        self
    }

    /// Adds a layer just outside the router; layers added later wrap those added earlier (so add the step-up
    /// gate first: it must sit right outside the router it runs suspended events through again).
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
        let jobs = crate::jobs::Jobs::new(self.store.clone(), self.clock.clone());
        let chats = Arc::new(crate::chats::ChatBook::new(self.store.clone()));
        let messenger = Arc::new(crate::messenger::RuntimeMessenger::new(chats.clone()));
        messenger.cap_files(self.dispatch.max_file_bytes);
        let parts = RouterParts {
            store,
            clock,
            idle_ms,
            bot_name: self.bot_name,
            policy: self.policy,
            audit: audit.clone(),
            http: self.http,
            jobs: Some(jobs.clone()),
            messenger: Some(messenger.clone()),
            chats: Some(chats),
            texts: self.texts.clone(),
        };
        let router = Router::new(self.plugins, parts)?;
        let access = self.access.unwrap_or_else(|| Arc::new(Access::default()));
        let mut svc: EventService = BoxCloneSyncService::new(router.clone());
        for layer in self.layers {
            svc = layer(svc);
        }
        let svc = ServiceBuilder::new()
            .layer(TraceLayer)
            .layer(ApologizeLayer)
            .layer(TimeoutLayer::new(self.dispatch.handler_timeout))
            .layer(CatchPanicLayer)
            .layer(AccessLayer::new(access.clone()))
            .service(svc);
        let mut outboxes = self.outboxes;
        outboxes.bound(self.dispatch.send_queue);
        outboxes.remember_retractable(crate::retractions::Retractions::new(self.store.clone(), self.clock.clone()));
        let journal = self
            .dispatch
            .journal
            .then(|| Arc::new(crate::journal::Journal::new(self.store.clone(), &self.dispatch.replica)));
        if let Some(journal) = &journal {
            outboxes.journal(journal.clone());
        }
        messenger.connect(outboxes.clone(), audit);
        if let Some(limiter) = &self.limiter
            && self.store.shared()
        {
            limiter.share(self.store.clone(), self.clock.clone());
        }
        let leases =
            match self.store.shared().then(|| crate::leases::Leases::new(self.store.clone(), self.clock.clone())) {
                Some(Ok(leases)) => Some(leases),
                Some(Err(error)) => return Err(format!("cannot take leases among replicas: {error}")),
                None => None,
            };
        let (tx, rx) = mpsc::channel(self.dispatch.queue_capacity);
        let load = Arc::new(crate::status::Load::default());
        load.watch_intake(&tx);
        Ok(Dispatcher {
            service: BoxCloneSyncService::new(svc),
            router,
            store: self.store,
            clock: self.clock,
            settings: self.dispatch,
            flow_settings: self.flows,
            outboxes,
            tx,
            rx,
            observer: self.observer,
            journal,
            limiter: self.limiter,
            load,
            jobs,
            access,
            leases,
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
    observer: Option<Arc<dyn crate::services::Observer>>,
    journal: Option<Arc<crate::journal::Journal>>,
    limiter: Option<Arc<Limiter>>,
    load: Arc<crate::status::Load>,
    jobs: Arc<crate::jobs::Jobs>,
    access: Arc<Access>,
    /// With replicas on one store: the lead of roles only one of them may do (Telegram polling).
    leases: Option<crate::leases::Leases>,
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
            clock: SystemClock::shared(),
            dispatch: DispatchSettings::default(),
            flows: FlowSettings::default(),
            access: None,
            bot_name: "Palisade".into(),
            outboxes: Outboxes::default(),
            layers: Vec::new(),
            policy: Default::default(),
            audit: None,
            observer: None,
            limiter: None,
            http: Default::default(),
            texts: Arc::default(),
        }
    }

    /// The intake adapters submit to.
    pub fn sink(&self) -> EventSink {
        let sink = EventSink::new(self.tx.clone(), self.observer.clone());
        match &self.leases {
            Some(leases) => sink
                .with_leadership(Arc::new(leases.clone()))
                .with_id_book(Arc::new(crate::ids::StoreIdBook::new(self.store.clone()))),
            None => sink,
        }
    }

    /// Where replies go, per platform.
    pub fn outboxes(&self) -> &Outboxes {
        &self.outboxes
    }

    /// The router (for listing commands; a reload replaces its step-up policy).
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// The rate limiter at intake, if limits are configured (a reload replaces its limits).
    pub fn limiter(&self) -> Option<&Arc<Limiter>> {
        self.limiter.as_ref()
    }

    /// Queue depths and each platform's last event, for `palisade status` and the metrics.
    pub fn load(&self) -> &Arc<crate::status::Load> {
        &self.load
    }

    /// Handles events until `shutdown` is cancelled, then stops in bounded time; see
    /// [`Dispatcher::run_until`].
    pub async fn run(self, shutdown: CancellationToken) {
        self.run_until(shutdown, CancellationToken::new()).await;
    }

    /// Handles events until `shutdown` is cancelled. First the events and replies an earlier run left in the
    /// journal are taken up again. On `shutdown`: submissions are refused ([`crate::SinkError::Closed`]),
    /// queued events are left in the journal, running handlers finish (each bounded by `handler_timeout`),
    /// queued replies get `shutdown_grace` to leave, and the store is flushed; what was not sent stays in
    /// the journal for the next start. Cancelling `now` (a second signal) skips the waiting.
    pub async fn run_until(self, shutdown: CancellationToken, now: CancellationToken) {
        let Self {
            service,
            router,
            store,
            clock,
            settings,
            flow_settings,
            outboxes,
            tx,
            rx,
            observer: _,
            journal,
            limiter,
            load,
            jobs,
            access,
            leases: _,
        } = self;
        drop(tx);
        let texts = router.texts().clone();
        let sweeper_stop_jobs = CancellationToken::new();
        match jobs.load().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(jobs = n, "scheduled jobs waiting"),
            Err(error) => tracing::error!(%error, "could not read the scheduled jobs; they run once readable"),
        }
        let jobs_task = tokio::spawn(jobs.run(router.clone(), outboxes.clone(), access, sweeper_stop_jobs.clone()));
        let sweeper_stop = CancellationToken::new();
        let sweeper = tokio::spawn(sweeper::sweep_flows(
            router.flows().clone(),
            texts.clone(),
            outboxes.clone(),
            clock.clone(),
            flow_settings.idle_timeout,
            flow_settings.sweep_interval,
            sweeper_stop.clone(),
        ));
        // Replicas on one store take turns per conversation there; a store of this process alone needs none.
        let turns = match store.shared().then(|| crate::turns::Turns::new(store.clone(), clock.clone())) {
            Some(Ok(turns)) => Some(turns),
            Some(Err(error)) => {
                tracing::error!(%error, "cannot take turns with other replicas; conversations keep order here only");
                None
            }
            None => None,
        };
        let mut conversations = conversations::Conversations::new(
            service,
            outboxes.clone(),
            &settings,
            journal.clone(),
            load,
            texts.clone(),
            turns.clone(),
        );
        if let Some(journal) = &journal {
            recover(&clock, journal, &outboxes, &mut conversations).await;
        }
        let (accepted_tx, accepted_rx) = mpsc::channel(settings.queue_capacity);
        // With other replicas: the work of one that went silent is taken up here (or by another of them).
        let takeover = match &journal {
            Some(journal) if store.shared() && !settings.replica.is_empty() => Some(tokio::spawn(takeover::run(
                store.clone(),
                clock.clone(),
                settings.replica.clone(),
                journal.clone(),
                outboxes.clone(),
                accepted_tx.clone(),
                shutdown.clone(),
            ))),
            _ => None,
        };
        let intake =
            intake::Intake { journal: journal.clone(), limiter, outboxes: outboxes.clone(), clock, texts, turns };
        let intake = tokio::spawn(intake.run(rx, accepted_tx, shutdown.clone()));
        tokio::select! {
            () = conversations.run(accepted_rx, shutdown.clone()) => {}
            () = now.cancelled() => tracing::warn!("stopping at once; unfinished work stays in the journal"),
        }
        let _ = intake.await;
        if let Some(takeover) = takeover {
            let _ = takeover.await;
        }
        if !now.is_cancelled() {
            tokio::select! {
                drained = outboxes.drain(settings.shutdown_grace) => if !drained {
                    tracing::warn!(
                        replies = outboxes.queued(),
                        grace = ?settings.shutdown_grace,
                        "replies still queued after the shutdown grace; they are sent at the next start"
                    );
                },
                () = now.cancelled() => {}
            }
        }
        if now.is_cancelled() {
            outboxes.stop_now();
        }
        sweeper_stop.cancel();
        let _ = sweeper.await;
        sweeper_stop_jobs.cancel();
        let _ = jobs_task.await;
        if let Some(journal) = &journal {
            // Replies not delivered yet are sent at the next start.
            journal.settle().await;
        }
        match store.flush().await {
            Ok(()) => tracing::info!("dispatcher stopped; store flushed"),
            Err(error) => {
                tracing::error!(%error, "dispatcher stopped but the final store flush failed")
            }
        }
    }
}

/// Takes up what an earlier run left in the journal: replies still to send, and events not yet handled.
async fn recover(
    clock: &SharedClock,
    journal: &Arc<crate::journal::Journal>,
    outboxes: &Outboxes,
    conversations: &mut conversations::Conversations,
) {
    let entries = match journal.recover().await {
        Ok(entries) => entries,
        Err(error) => {
            tracing::error!(%error, "could not read the journal; events an earlier run accepted may be lost");
            return;
        }
    };
    if entries.is_empty() {
        return;
    }
    crate::metrics::recovered(entries.len() as u64);
    tracing::info!(entries = entries.len(), "taking up events and replies an earlier run left unfinished");
    for (entry, ticket) in entries {
        match entry.replies {
            Some(replies) => outboxes.send(entry.event.conversation(), replies, None, Some(ticket)).await,
            None => {
                let envelope = Envelope::new(entry.event).resumed();
                let at = ticket.arrived(clock.now_ms());
                conversations.enqueue(intake::Accepted { envelope, ticket: Some(ticket), at, place: None }).await;
            }
        }
    }
}
