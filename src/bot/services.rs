//! The runtime services a bot composes around its dispatcher, built once from the settings: the audit trail,
//! alerts, step-up verification, access (roles and blocks) and privacy rights. [`Services::dispatcher`]
//! adds the built-in plugins and layers them around the router exactly as `palisade run` does, so tests and
//! custom binaries get the same stack.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::alerts::{Alerts, CountLayer, Notice};
use crate::audit::Audit;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::dispatch::{Access, Dispatcher, DispatcherBuilder, Roles};
use crate::plugin::Plugin;
use crate::privacy::{ConsentBook, ConsentLayer, Privacy, PrivacyPlugin};
use crate::stepup::{GateLayer, StepUp, TwoFactor};
use crate::store::{SharedStore, StoreError};

/// Everything a bot runs besides its plugins and adapters.
pub struct Services {
    /// The encrypted store.
    pub store: SharedStore,
    /// Wall time.
    pub clock: SharedClock,
    /// The audit trail.
    pub audit: Arc<Audit>,
    /// Anomaly alerts.
    pub alerts: Arc<Alerts>,
    /// Raised alerts and rejection summaries, for the alert task (taken by whoever runs it).
    pub notices: Option<mpsc::UnboundedReceiver<Notice>>,
    /// Step-up verification.
    pub stepup: Arc<StepUp>,
    /// Roles and blocks.
    pub access: Arc<Access>,
    /// Identities linked across platforms.
    pub identities: Arc<crate::identity::Identities>,
    /// Adapters' connection states; the observer adapters report to.
    pub board: Arc<crate::status::Board>,
    /// Applies a changed configuration; set once the bot is assembled (`/admin reload` uses it).
    pub reloader: Arc<std::sync::OnceLock<Arc<crate::reload::Reloader>>>,
    settings: Settings,
    config_file: PathBuf,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").finish_non_exhaustive()
    }
}

impl Services {
    /// The services `settings` describe, over `store`; `config_file` is what `/admin reload` reads.
    pub async fn new(
        store: SharedStore,
        clock: SharedClock,
        settings: &Settings,
        config_file: PathBuf,
    ) -> Result<Self, StoreError> {
        let audit = Audit::new(store.clone(), clock.clone());
        let (alerts, notices) = Alerts::new(settings.alerts.clone(), clock.clone(), Some(audit.clone()));
        let stepup = StepUp::new(store.clone(), audit.clone(), settings.stepup.clone(), clock.clone());
        stepup.set_alerts(alerts.clone());
        let access = Access::new(Roles::from_config(&settings.roles), Some(store.clone())).await?;
        let board = crate::status::Board::new(alerts.clone(), clock.clone());
        let identities = crate::identity::Identities::new(store.clone(), audit.clone(), stepup.clone(), clock.clone());
        Ok(Self {
            store,
            clock,
            audit,
            alerts,
            notices: Some(notices),
            stepup,
            access,
            identities,
            board,
            reloader: Arc::default(),
            settings: settings.clone(),
            config_file,
        })
    }

    /// `plugins` followed by the built-in ones: `/2fa`, `/admin` and the privacy commands (built last: their
    /// texts and exports cover every plugin's data manifest).
    pub fn with_builtins(&self, mut plugins: Vec<Arc<dyn Plugin>>) -> (Vec<Arc<dyn Plugin>>, Arc<Privacy>) {
        plugins.push(Arc::new(TwoFactor::new(self.stepup.clone())));
        let admin = crate::admin::Admin::new(
            self.stepup.clone(),
            self.access.clone(),
            self.audit.clone(),
            self.config_file.clone(),
        )
        .with_reloader(self.reloader.clone())
        .with_identities(self.identities.clone());
        plugins.push(Arc::new(admin));
        plugins.push(Arc::new(crate::identity::IdentityPlugin::new(self.identities.clone())));
        let manifests = plugins.iter().map(|p| (p.name().to_string(), p.manifest())).collect();
        let privacy = Privacy::new(
            self.store.clone(),
            manifests,
            self.audit.clone(),
            self.settings.privacy.clone(),
            self.clock.clone(),
        )
        .with_stepup(self.stepup.clone())
        .with_alerts(self.alerts.clone())
        .with_identities(self.identities.clone());
        let privacy = Arc::new(privacy);
        plugins.push(Arc::new(PrivacyPlugin::new(privacy.clone())));
        (plugins, privacy)
    }

    /// Connects the services to the built dispatcher: verified actions go back in through its intake, so they
    /// run in their own conversation's queue.
    pub fn connect(&self, dispatcher: &Dispatcher) {
        self.stepup.set_resubmit(dispatcher.sink());
        self.identities.set_outboxes(dispatcher.outboxes().clone());
    }

    /// A dispatcher over `plugins` (built-ins included, see [`Services::with_builtins`]) with the settings'
    /// limits and every service layered around the router: step-up gate (innermost), consent, alert counting.
    pub fn dispatcher(&self, plugins: Vec<Arc<dyn Plugin>>) -> DispatcherBuilder {
        let s = &self.settings;
        let consent = ConsentLayer::new(ConsentBook::new(self.store.clone(), self.clock.clone()), &plugins);
        // Checked when the configuration was loaded; a problem here (settings built by hand) keeps English.
        let texts = s.texts.build().unwrap_or_else(|problems| {
            tracing::error!(
                problems = problems.len(),
                "the [texts] overrides are not used: run `palisade config check`"
            );
            palisade_core::texts::Texts::default()
        });
        Dispatcher::builder(plugins, self.store.clone())
            .texts(Arc::new(texts))
            .clock(self.clock.clone())
            .dispatch_settings(s.dispatch.clone())
            .flow_settings(s.flows.clone())
            .access(self.access.clone())
            .rate_limit(s.ratelimit)
            .bot_name(s.bot.name.clone())
            .audit(self.audit.clone())
            .observer(self.board.clone())
            .require_for(s.stepup.require_for.iter().cloned())
            .single_use(s.stepup.single_use.iter().cloned())
            .layer(
                GateLayer::new(self.stepup.clone())
                    .across_platforms(self.identities.clone(), s.identity.cross_platform_confirm),
            )
            .layer(consent)
            .layer(CountLayer::new(self.alerts.clone()))
    }
}
