//! Reloading the configuration while the bot runs (SIGHUP, `palisade reload`, `/admin reload`).
//!
//! The file is read and checked exactly as at start (environment overrides included); if anything is wrong,
//! nothing changes and the answer says what. Otherwise these take effect at once: `[roles]`, `[ratelimit]`,
//! `[alerts]` (thresholds, window, cooldown, admin chats), `[stepup] require_for`, `single_use` and
//! `grant_ttl`, `[logging] level` and `content`, and `[store.retention]`. Any other key that changed is
//! named in the answer as needing a restart. Every reload is audited with the file's SHA-256.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use crate::alerts::Alerts;
use crate::audit::{Audit, Outcome};
use crate::bot::{AdapterChoice, Plan};
use crate::config::{Loaded, Loader};
use crate::dispatch::{Access, Limiter, Roles, Router};
use crate::plugin::{DataManifest, Registry};
use crate::stepup::StepUp;
use crate::store::SharedRules;

/// Keys (and the tables under them) a reload applies.
pub const RELOADABLE: [&str; 9] = [
    "roles",
    "ratelimit",
    "alerts",
    "stepup.require_for",
    "stepup.single_use",
    "stepup.grant_ttl",
    "logging.level",
    "logging.content",
    "store.retention",
];

/// What a reload did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reloaded {
    /// The file's SHA-256 (hex).
    pub sha: String,
    /// Changed keys now in effect.
    pub applied: Vec<String>,
    /// Changed keys that take effect only after a restart.
    pub need_restart: Vec<String>,
}

impl Reloaded {
    /// The answer a person reads.
    pub fn describe(&self) -> String {
        let mut out = if self.applied.is_empty() {
            "configuration checked; nothing that a reload applies has changed".to_string()
        } else {
            format!("configuration reloaded; now in effect: {}", self.applied.join(", "))
        };
        if !self.need_restart.is_empty() {
            out.push_str(&format!("\nchanged but in effect only after a restart: {}", self.need_restart.join(", ")));
        }
        out
    }
}

/// The live settings a reload replaces, and the configuration they came from.
pub struct Reloader {
    file: PathBuf,
    registry: Registry,
    choice: AdapterChoice,
    // std Mutex: swapped once per reload; never held across an await.
    current: Mutex<Loaded>,
    /// Reloads run one at a time.
    turn: tokio::sync::Mutex<()>,
    access: Arc<Access>,
    limiter: Option<Arc<Limiter>>,
    alerts: Arc<Alerts>,
    stepup: Arc<StepUp>,
    router: Router,
    retention: SharedRules,
    manifests: Vec<(String, DataManifest)>,
    audit: Arc<Audit>,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader").field("file", &self.file).finish_non_exhaustive()
    }
}

/// What a [`Reloader`] acts on.
pub struct Parts {
    /// The configuration the bot started with.
    pub loaded: Loaded,
    /// What the binary can run (a reloaded file must still build).
    pub registry: Registry,
    /// The adapters the bot runs.
    pub choice: AdapterChoice,
    /// Roles and blocks.
    pub access: Arc<Access>,
    /// Intake rate limits.
    pub limiter: Option<Arc<Limiter>>,
    /// Alert thresholds.
    pub alerts: Arc<Alerts>,
    /// Step-up (grant lifetime).
    pub stepup: Arc<StepUp>,
    /// The router (step-up policy).
    pub router: Router,
    /// The retention sweep's rules.
    pub retention: SharedRules,
    /// Every plugin's data manifest (retention comes from them).
    pub manifests: Vec<(String, DataManifest)>,
    /// The audit trail.
    pub audit: Arc<Audit>,
}

impl Reloader {
    /// A reloader for the bot `parts` describe.
    pub fn new(parts: Parts) -> Arc<Self> {
        let Parts { loaded, registry, choice, access, limiter, alerts, stepup, router, retention, manifests, audit } =
            parts;
        Arc::new(Self {
            file: loaded.file.clone(),
            registry,
            choice,
            current: Mutex::new(loaded),
            turn: tokio::sync::Mutex::new(()),
            access,
            limiter,
            alerts,
            stepup,
            router,
            retention,
            manifests,
            audit,
        })
    }

    /// Reads the file again and applies what can be applied; `by` says who asked (for the audit trail:
    /// `SIGHUP`, an OS user, an admin's pseudonym). On any problem nothing changes and the error says why.
    pub async fn reload(&self, by: &str) -> Result<Reloaded, String> {
        let _turn = self.turn.lock().await;
        let loaded = match self.check() {
            Ok(loaded) => loaded,
            Err(e) => {
                crate::metrics::reloaded("refused");
                let details = [("by", by.to_string()), ("file", self.file.display().to_string())];
                self.audit.note("config.reload_refused", None, Outcome::Denied, &details).await;
                tracing::warn!(by, "configuration reload refused; nothing changed:\n{e}");
                return Err(format!("nothing changed: {e}"));
            }
        };
        let sha = crate::crypto::hex(&crate::crypto::digest(loaded.text.as_bytes()));
        let (applied, need_restart) = {
            let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
            changes(&current, &loaded)
        };
        self.apply(&loaded)?;
        let details = [
            ("by", by.to_string()),
            ("sha", sha.clone()),
            ("applied", applied.join(",")),
            ("need_restart", need_restart.join(",")),
        ];
        self.audit.note("config.reloaded", None, Outcome::Info, &details).await;
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = loaded;
        crate::metrics::reloaded("applied");
        let reloaded = Reloaded { sha, applied, need_restart };
        tracing::info!(by, "{}", reloaded.describe());
        Ok(reloaded)
    }

    /// Loads and checks the file as `palisade run` would, plugins and adapters included.
    fn check(&self) -> Result<Loaded, String> {
        let loaded = Loader::new(&self.file).load().map_err(|e| e.to_string())?;
        Plan::new(&loaded, &self.registry, self.choice.clone()).map_err(|e| e.to_string())?;
        Ok(loaded)
    }

    fn apply(&self, loaded: &Loaded) -> Result<(), String> {
        let s = &loaded.settings;
        // The one step that can fail goes first, so a failure changes nothing.
        crate::logging::reload(&s.logging)?;
        self.access.set_roles(Roles::from_config(&s.roles));
        if let Some(limiter) = &self.limiter {
            limiter.set_settings(s.ratelimit);
        }
        self.alerts.set_settings(s.alerts.clone());
        self.stepup.set_grant_ttl(s.stepup.grant_ttl);
        self.router.set_policy(crate::plugin::ScopePolicy {
            require_for: s.stepup.require_for.iter().cloned().collect(),
            single_use: s.stepup.single_use.iter().cloned().collect(),
        });
        let rules = crate::store::retention_rules(&self.manifests, &s.store.retention());
        *self.retention.write().unwrap_or_else(PoisonError::into_inner) = rules;
        Ok(())
    }
}

/// The keys that differ between `old` and `new`: those a reload applies, and the rest.
fn changes(old: &Loaded, new: &Loaded) -> (Vec<String>, Vec<String>) {
    let keys: std::collections::BTreeSet<&String> = old.values.keys().chain(new.values.keys()).collect();
    let mut applied = Vec::new();
    let mut restart = Vec::new();
    for key in keys {
        if old.values.get(key) == new.values.get(key) {
            continue;
        }
        let reloadable = RELOADABLE.iter().any(|r| key == r || key.starts_with(&format!("{r}.")));
        if reloadable { applied.push(key.clone()) } else { restart.push(key.clone()) }
    }
    (applied, restart)
}
