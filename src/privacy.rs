//! Privacy and data-subject rights (GDPR Art. 15–17, 20; CCPA know/delete/correct), for every plugin at
//! once because they are built from the plugins' data manifests:
//!
//! - `/privacy` — what is kept about me, why, on what basis, for how long, who the controller is;
//! - `/mydata` — a JSON export of everything about me, delivered privately (step-up first if enrolled);
//! - `/correct` — rectify fields the manifests mark correctable;
//! - `/forget` — confirm, step-up if enrolled, then crypto-shred and delete everything about me;
//! - `/consent` — see and withdraw consents plugins asked for.
//!
//! Every request is written to a register with its statutory deadline, for `palisade user requests`.

mod commands;
mod consent;
mod consent_layer;
mod export;
mod register;

use std::sync::Arc;

pub use commands::PrivacyPlugin;
pub use consent::{ConsentBook, ConsentRecord};
pub use consent_layer::{Consent, ConsentLayer};
pub use export::export;
pub use register::{Register, Request, RequestKind};

use crate::alerts::{Alerts, Signal};
use crate::audit::{Actor, Audit, Outcome};
use crate::config::PrivacySettings;
use crate::event::UserRef;
use crate::plugin::{DataManifest, LegalBasis, Namespace, days};
use crate::stepup::StepUp;
use crate::store::{SharedStore, StoreError, Subject};

/// The namespaces the core itself keeps about users, declared like a plugin's.
pub fn core_manifest() -> DataManifest {
    DataManifest::with(Namespace::new(
        "core.flows",
        "the step you are at in a multi-step conversation",
        "continue a conversation where you left it",
        LegalBasis::Contract,
        days(1),
    ))
    .and(Namespace::new(
        "core.stepup",
        "your two-factor secret, last accepted code step, failure counters and hashed recovery codes",
        "verify it is you before sensitive actions",
        LegalBasis::LegitimateInterests,
        days(3650),
    ))
    .and(Namespace::new(
        "core.stepup.pending",
        "an action waiting for your verification code",
        "resume the action once you are verified",
        LegalBasis::Contract,
        days(1),
    ))
    .and(Namespace::new(
        "core.stepup.grants",
        "that you verified yourself a moment ago, for which kind of action and until when",
        "not ask for another code within the time an operator allows (kept only with several replicas)",
        LegalBasis::LegitimateInterests,
        days(1),
    ))
    .and(Namespace::new(
        "core.ratelimit",
        "how many messages you sent in the last minutes, per chat",
        "keep one person from flooding the bot (kept only with several replicas)",
        LegalBasis::LegitimateInterests,
        days(1),
    ))
    .and(Namespace::new(
        "core.stepup.used",
        "the time step of the last verification code you used",
        "accept each code only once",
        LegalBasis::LegitimateInterests,
        days(1),
    ))
    .and(Namespace::new(
        "core.audit.pseudonym",
        "a random value from which the name the audit trail gives you is derived",
        "keep a tamper-evident record of security events without naming you",
        LegalBasis::LegitimateInterests,
        days(3650),
    ))
    .and(Namespace::new(
        "core.sent",
        "where messages carrying your two-factor key, recovery codes or a copy of your data landed",
        "delete those messages from the chat once they are no longer needed",
        LegalBasis::LegitimateInterests,
        days(365),
    ))
    .and(Namespace::new(
        "core.admin.blocked",
        "whether staff blocked you",
        "stop abuse of the bot",
        LegalBasis::LegitimateInterests,
        days(3650),
    ))
    .and(Namespace::new(
        "core.journal",
        "a message you sent that is being handled, or the answers to it not yet delivered",
        "answer every message the bot accepted, even after a crash",
        LegalBasis::Contract,
        days(7),
    ))
    .and(Namespace::new(
        "core.jobs",
        "things you asked to be done later, such as reminders, with what they will say",
        "do them when you asked",
        LegalBasis::Contract,
        days(366),
    ))
    .and(Namespace::new(
        "core.identity",
        "your accounts on other platforms that you linked with this one",
        "treat you as one person: one two-factor setup, one copy of your data, your rights everywhere",
        LegalBasis::Contract,
        days(3650),
    ))
    .and(Namespace::new(
        "core.identity.codes",
        "a link code you asked for (only a keyed hash of it) and who asked, for 10 minutes",
        "link your accounts only with a code you were shown",
        LegalBasis::Contract,
        days(1),
    ))
    .and(Namespace::new(
        "core.privacy.consent",
        "the consents you gave or withdrew, with time and version",
        "prove and respect your choices",
        LegalBasis::LegalObligation,
        days(3650),
    ))
}

/// The privacy service shared by the built-in commands and the admin CLI.
pub struct Privacy {
    store: SharedStore,
    manifests: Vec<(String, DataManifest)>,
    stepup: Option<Arc<StepUp>>,
    audit: Arc<Audit>,
    alerts: Option<Arc<Alerts>>,
    settings: PrivacySettings,
    register: Register,
    consents: ConsentBook,
    identities: Option<Arc<crate::identity::Identities>>,
}

impl std::fmt::Debug for Privacy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Privacy").finish_non_exhaustive()
    }
}

impl Privacy {
    /// Privacy over `store`, for plugins with `manifests` (name, manifest); the core's namespaces are added.
    pub fn new(
        store: SharedStore,
        manifests: Vec<(String, DataManifest)>,
        audit: Arc<Audit>,
        settings: PrivacySettings,
        clock: crate::clock::SharedClock,
    ) -> Self {
        let mut all = vec![("core".to_string(), core_manifest())];
        all.extend(manifests);
        let register = Register::new(store.clone(), audit.clone(), settings.regimes.clone(), clock.clone());
        let consents = ConsentBook::new(store.clone(), clock);
        Self {
            store,
            manifests: all,
            stepup: None,
            audit,
            alerts: None,
            settings,
            register,
            consents,
            identities: None,
        }
    }

    /// Uses `stepup` to ask enrolled users for a code before exports and erasures.
    #[must_use]
    pub fn with_stepup(mut self, stepup: Arc<StepUp>) -> Self {
        self.stepup = Some(stepup);
        self
    }

    /// Counts exports and erasures toward `[alerts]`.
    #[must_use]
    pub fn with_alerts(mut self, alerts: Arc<Alerts>) -> Self {
        self.alerts = Some(alerts);
        self
    }

    /// Every manifest, core first.
    pub fn manifests(&self) -> &[(String, DataManifest)] {
        &self.manifests
    }

    /// The settings.
    pub fn settings(&self) -> &PrivacySettings {
        &self.settings
    }

    /// The request register.
    pub fn register(&self) -> &Register {
        &self.register
    }

    /// The consent book.
    pub fn consents(&self) -> &ConsentBook {
        &self.consents
    }

    /// Whether the user has two-factor verification on (exports and erasures then need a code).
    pub async fn is_enrolled(&self, user: &UserRef) -> Result<bool, StoreError> {
        match &self.stepup {
            Some(s) => s.is_enrolled(user).await,
            None => Ok(false),
        }
    }

    /// Whether anything is stored about `user`: a record in any declared namespace, or a block.
    pub async fn holds_anything(&self, user: &UserRef) -> Result<bool, StoreError> {
        let subject = Subject::user(user);
        for (_, manifest) in &self.manifests {
            for ns in &manifest.namespaces {
                if !self.store.list(ns.name, Some(&subject)).await?.is_empty() {
                    return Ok(true);
                }
            }
        }
        crate::dispatch::Access::is_blocked_in(&*self.store, user).await
    }

    /// Knows linked identities: an erasure through one ends what the others hold in memory too (grants,
    /// cached pseudonyms).
    #[must_use]
    pub fn with_identities(mut self, identities: Arc<crate::identity::Identities>) -> Self {
        self.identities = Some(identities);
        self
    }

    /// Everything about `user` as JSON (see [`export`]); audited and registered.
    pub async fn export(&self, user: &UserRef, channel: &str) -> Result<serde_json::Value, StoreError> {
        let mut data = export::export(&*self.store, &self.manifests, &self.audit, user, &self.settings).await?;
        self.register.completed(RequestKind::Access, user, channel).await?;
        let requests = self.register.of(&self.audit.pseudonym(user).await?).await?;
        data["rights_requests"] = serde_json::to_value(requests).unwrap_or(serde_json::Value::Null);
        self.audit.record("privacy.export", Some(user), Outcome::Success, &[("channel", channel.into())]).await?;
        if let Some(a) = &self.alerts {
            a.observe(Signal::Export);
        }
        Ok(data)
    }

    /// Erases everything about `user`: crypto-shreds their data key and deletes their records (flows, 2FA,
    /// pending actions, consents, every plugin's data), flushed. The audit trail keeps a pseudonymous
    /// tombstone. Returns how many records were deleted.
    pub async fn erase(&self, user: &UserRef, channel: &str) -> Result<u64, StoreError> {
        // Every identity of the person goes: their grants and cached pseudonyms with them.
        let everyone = match &self.identities {
            Some(identities) => identities.linked(user).await?,
            None => vec![user.clone()],
        };
        for identity in &everyone {
            if let Some(s) = &self.stepup {
                s.forget_grants(identity).await?;
            }
            if identity != user {
                self.audit.forget(identity);
            }
        }
        // The pseudonym is taken before the erasure shreds its salt: the erasure is recorded under the name the
        // person's earlier entries carry, which nothing links to them afterwards.
        let actor = Actor { pseudonym: self.audit.pseudonym(user).await?, platform: user.platform };
        self.audit.forget(user);
        let erased = self.store.erase_subject(&Subject::user(user)).await?;
        self.register.add_for(RequestKind::Erasure, actor.pseudonym.clone(), channel, true).await?;
        let details = [("records", erased.to_string()), ("channel", channel.to_string())];
        self.audit.record_as("privacy.erase", Some(&actor), Outcome::Success, &details).await?;
        if let Some(a) = &self.alerts {
            a.observe(Signal::Erasure);
        }
        Ok(erased)
    }

    /// The store (for corrections).
    pub(crate) fn store(&self) -> &SharedStore {
        &self.store
    }

    /// The audit trail.
    pub(crate) fn audit(&self) -> &Arc<Audit> {
        &self.audit
    }
}
