//! `palisade user …`: the operator's side of data-subject rights — export, erase, and the request register.

use std::path::PathBuf;

use clap::Subcommand;
use serde::{Deserialize, Serialize};

use palisade::control::Answer;

use palisade::audit::Audit;
use palisade::clock::{Clock, SystemClock};
use palisade::config::Loaded;
use palisade::event::{Platform, UserRef};
use palisade::plugin::Registry;
use palisade::privacy::{Privacy, RequestKind};
use palisade::store::{self, StoreError};

use crate::report::{self, Report};

/// `palisade user …`.
#[derive(Debug, Subcommand, Serialize, Deserialize)]
pub enum UserAction {
    /// Export everything stored about one user as JSON (audited and registered).
    Export {
        /// `telegram`, `discord`, `slack` or `console`.
        #[arg(long)]
        platform: Platform,
        /// The user's immutable id on that platform.
        #[arg(long)]
        id: String,
        /// Write to this file (mode 0600) instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Erase everything stored about one user: crypto-shred their key, delete their records (audited).
    Erase {
        /// `telegram`, `discord`, `slack` or `console`.
        #[arg(long)]
        platform: Platform,
        /// The user's immutable id on that platform.
        #[arg(long)]
        id: String,
        /// Confirm; without it nothing is erased.
        #[arg(long)]
        yes: bool,
    },
    /// The rights-request register: every request with its deadline; open and overdue ones marked.
    Requests {
        /// Register a request received outside the chat (by email, letter): `access`, `rectification` or
        /// `erasure`, with --platform and --id.
        #[arg(long, value_parser = ["access", "rectification", "erasure"])]
        add: Option<String>,
        /// With --add: the platform.
        #[arg(long)]
        platform: Option<Platform>,
        /// With --add: the user's id.
        #[arg(long)]
        id: Option<String>,
        /// Mark request ID completed.
        #[arg(long, value_name = "ID")]
        close: Option<String>,
    },
}

/// Runs one user action on the store, opened here, with the plugins of `registry` (their manifests define
/// what is exported).
pub async fn run(loaded: &Loaded, registry: &Registry, action: UserAction) -> Answer {
    match privacy(loaded, registry).await {
        Ok(p) => act(&p, action).await,
        Err(e) => report::error(1, e),
    }
}

async fn privacy(loaded: &Loaded, registry: &Registry) -> Result<Privacy, StoreError> {
    let clock = SystemClock::shared();
    let store = store::open(&loaded.settings.store, clock.clone()).await?;
    let audit = Audit::new(store.clone(), clock.clone());
    let plugins = registry.build_plugins(&loaded.settings).unwrap_or_default();
    let manifests = plugins.iter().map(|p| (p.name().to_string(), p.manifest())).collect();
    let stepup =
        palisade::stepup::StepUp::new(store.clone(), audit.clone(), loaded.settings.stepup.clone(), clock.clone());
    Ok(Privacy::new(store, manifests, audit, loaded.settings.privacy.clone(), clock).with_stepup(stepup))
}

/// The user `id` names on `platform`, or why it cannot be a user id there.
fn user(platform: Platform, id: String) -> Result<UserRef, Answer> {
    match UserRef::id_problem(platform, &id) {
        Some(problem) => Err(report::error(2, problem)),
        None => Ok(UserRef::new(platform, id)),
    }
}

/// Runs one user action with `privacy` (the bot's own when it runs).
pub async fn act(privacy: &Privacy, action: UserAction) -> Answer {
    let mut r = Report::default();
    let result = match action {
        UserAction::Export { platform, id, out } => match user(platform, id) {
            Err(answer) => return answer,
            Ok(user) => export(privacy, &user, out.as_deref(), &mut r).await,
        },
        UserAction::Erase { platform, id, yes } => {
            if !yes {
                return report::error(2, "erasing cannot be undone; add --yes to confirm");
            }
            match user(platform, id) {
                Err(answer) => return answer,
                Ok(user) => erase(privacy, &user, &mut r).await,
            }
        }
        UserAction::Requests { add, platform, id, close } => requests(privacy, add, platform, id, close, &mut r).await,
    };
    match result {
        Ok(code) => r.code(code),
        Err(e) => report::error(1, e),
    }
}

async fn export(
    privacy: &Privacy,
    user: &UserRef,
    out: Option<&std::path::Path>,
    r: &mut Report,
) -> Result<u8, StoreError> {
    if !privacy.holds_anything(user).await? {
        r.say(format!("nothing is stored about {user}; there is nothing to export"));
        return Ok(0);
    }
    let data = privacy.export(user, "cli").await?;
    let mut text = serde_json::to_string_pretty(&data).unwrap_or_default();
    text.push('\n');
    r.document(text.into_bytes());
    if let Some(path) = out {
        r.say(format!("wrote {} (mode 0600)", path.display()));
    }
    Ok(0)
}

async fn erase(privacy: &Privacy, user: &UserRef, r: &mut Report) -> Result<u8, StoreError> {
    if !privacy.holds_anything(user).await? {
        r.say(format!("nothing is stored about {user}; nothing was erased and no request was registered"));
        return Ok(0);
    }
    let n = privacy.erase(user, "cli").await?;
    r.say(format!("erased {n} record(s) and destroyed the user's data key"));
    Ok(0)
}

async fn requests(
    privacy: &Privacy,
    add: Option<String>,
    platform: Option<Platform>,
    id: Option<String>,
    close: Option<String>,
    r: &mut Report,
) -> Result<u8, StoreError> {
    let register = privacy.register();
    if let Some(kind) = add {
        let (Some(platform), Some(id)) = (platform, id) else {
            r.warn("error: --add needs --platform and --id");
            return Ok(2);
        };
        let kind = match kind.as_str() {
            "access" => RequestKind::Access,
            "rectification" => RequestKind::Rectification,
            _ => RequestKind::Erasure,
        };
        let req = register.add(kind, &UserRef::new(platform, id), "manual", false).await?;
        r.say(format!("registered request {} (due {})", req.id, when(req.due_at_ms)));
    }
    if let Some(id) = close {
        r.say(if register.close(&id).await? { "closed" } else { "no such request" });
    }
    let now = SystemClock.now_ms();
    for req in register.all().await? {
        let status = match req.completed_at_ms {
            Some(t) => format!("done {}", when(t)),
            None if req.is_overdue(now) => "OVERDUE".into(),
            None => "open".into(),
        };
        r.say(format!(
            "{}  {:?}  subject {}  via {}  received {}  due {}  {status}",
            req.id,
            req.kind,
            req.subject,
            req.channel,
            when(req.received_at_ms),
            when(req.due_at_ms)
        ));
    }
    Ok(0)
}

fn when(ms: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms)).to_string()
}
