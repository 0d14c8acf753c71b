//! `palisade user …`: the operator's side of data-subject rights — export, erase, and the request register.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use palisade::audit::Audit;
use palisade::clock::{Clock, SystemClock};
use palisade::config::Loaded;
use palisade::event::{Platform, UserRef};
use palisade::plugin::Registry;
use palisade::privacy::{Privacy, RequestKind};
use palisade::store::{self, StoreError};

/// `palisade user …`.
#[derive(Debug, Subcommand)]
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

/// Runs one user action with the plugins of `registry` (their manifests define what is exported).
pub async fn run(loaded: &Loaded, registry: &Registry, action: UserAction) -> ExitCode {
    let result = match privacy(loaded, registry).await {
        Ok(p) => act(&p, action).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
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

/// The user `id` names on `platform`, or `None` (after saying why) when it cannot be a user id there.
fn user(platform: Platform, id: String) -> Option<UserRef> {
    if let Some(problem) = UserRef::id_problem(platform, &id) {
        eprintln!("error: {problem}");
        return None;
    }
    Some(UserRef::new(platform, id))
}

async fn act(privacy: &Privacy, action: UserAction) -> Result<ExitCode, StoreError> {
    match action {
        UserAction::Export { platform, id, out } => {
            let Some(user) = user(platform, id) else { return Ok(ExitCode::from(2)) };
            if !privacy.holds_anything(&user).await? {
                println!("nothing is stored about {user}; there is nothing to export");
                return Ok(ExitCode::SUCCESS);
            }
            let data = privacy.export(&user, "cli").await?;
            let text = serde_json::to_string_pretty(&data).unwrap_or_default();
            match out {
                Some(path) => {
                    palisade::private_file::write_private(&path, text.as_bytes()).map_err(|e| StoreError::Codec {
                        namespace: "cli".into(),
                        reason: format!("cannot write {}: {e}", path.display()),
                    })?;
                    println!("wrote {} (mode 0600)", path.display());
                }
                None => println!("{text}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        UserAction::Erase { platform, id, yes } => {
            if !yes {
                eprintln!("error: erasing cannot be undone; add --yes to confirm");
                return Ok(ExitCode::from(2));
            }
            let Some(user) = user(platform, id) else { return Ok(ExitCode::from(2)) };
            if !privacy.holds_anything(&user).await? {
                println!("nothing is stored about {user}; nothing was erased and no request was registered");
                return Ok(ExitCode::SUCCESS);
            }
            let n = privacy.erase(&user, "cli").await?;
            println!("erased {n} record(s) and destroyed the user's data key");
            Ok(ExitCode::SUCCESS)
        }
        UserAction::Requests { add, platform, id, close } => requests(privacy, add, platform, id, close).await,
    }
}

async fn requests(
    privacy: &Privacy,
    add: Option<String>,
    platform: Option<Platform>,
    id: Option<String>,
    close: Option<String>,
) -> Result<ExitCode, StoreError> {
    let register = privacy.register();
    if let Some(kind) = add {
        let (Some(platform), Some(id)) = (platform, id) else {
            eprintln!("error: --add needs --platform and --id");
            return Ok(ExitCode::from(2));
        };
        let kind = match kind.as_str() {
            "access" => RequestKind::Access,
            "rectification" => RequestKind::Rectification,
            _ => RequestKind::Erasure,
        };
        let r = register.add(kind, &UserRef::new(platform, id), "manual", false).await?;
        println!("registered request {} (due {})", r.id, when(r.due_at_ms));
    }
    if let Some(id) = close {
        println!("{}", if register.close(&id).await? { "closed" } else { "no such request" });
    }
    let now = SystemClock.now_ms();
    for r in register.all().await? {
        let status = match r.completed_at_ms {
            Some(t) => format!("done {}", when(t)),
            None if r.is_overdue(now) => "OVERDUE".into(),
            None => "open".into(),
        };
        println!(
            "{}  {:?}  subject {}  via {}  received {}  due {}  {status}",
            r.id,
            r.kind,
            r.subject,
            r.channel,
            when(r.received_at_ms),
            when(r.due_at_ms)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn when(ms: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms)).to_string()
}
