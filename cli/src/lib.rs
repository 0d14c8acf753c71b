//! The `palisade` command line. A binary calls [`main`] with the plugins and adapters it was built with; the
//! `palisade` binary of this crate registers the demo plugins and the three platform adapters.
//!
//! # Layout
//!
//! | module | owns |
//! |---|---|
//! | this file | the commands (`run`, `chat`, `config check`, `keygen`) and [`main`] |
//! | `store_cmd` | `palisade store …`: check, stats, sweep, rotate-key |
//! | `audit_cmd` | `palisade audit …`: verify, export |
//! | `user_cmd` | `palisade user …`: export, erase, the rights-request register |
//!
//! clap lives only in this crate.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use palisade::bot::{AdapterChoice, Bot, BotError, Plan};
use palisade::config::{Loaded, Loader};
use palisade::plugin::Registry;

mod audit_cmd;
mod store_cmd;
mod user_cmd;

/// Palisade: a security-first chat bot.
#[derive(Debug, Parser)]
#[command(name = "palisade", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every enabled adapter until SIGINT or SIGTERM.
    Run {
        /// The TOML configuration file.
        #[arg(long, env = "PALISADE_CONFIG")]
        config: PathBuf,
    },
    /// Talk to the bot in this terminal (or pipe lines into it).
    Chat {
        /// The TOML configuration file.
        #[arg(long, env = "PALISADE_CONFIG")]
        config: PathBuf,
        /// Who you are in the console (your id is `console:NAME`).
        #[arg(long = "as", value_name = "NAME")]
        user: Option<String>,
    },
    /// Inspect configuration.
    Config {
        /// What to do with it.
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Verify or export the tamper-evident audit trail.
    Audit {
        /// The TOML configuration file.
        #[arg(long, env = "PALISADE_CONFIG", global = true)]
        config: Option<PathBuf>,
        /// What to do.
        #[command(subcommand)]
        action: audit_cmd::AuditAction,
    },
    /// Data-subject rights from the operator's side: export, erase, the request register.
    User {
        /// The TOML configuration file.
        #[arg(long, env = "PALISADE_CONFIG", global = true)]
        config: Option<PathBuf>,
        /// What to do.
        #[command(subcommand)]
        action: user_cmd::UserAction,
    },
    /// Write a new random master key to a file readable only by you (mode 0600).
    Keygen {
        /// The file to create; an existing file is never overwritten.
        #[arg(long)]
        out: PathBuf,
    },
    /// Inspect and maintain the encrypted store (stop the bot first: the store is locked while it runs).
    Store {
        /// The TOML configuration file.
        #[arg(long, env = "PALISADE_CONFIG", global = true)]
        config: Option<PathBuf>,
        /// What to do.
        #[command(subcommand)]
        action: store_cmd::StoreAction,
    },
}

/// `palisade config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Check a configuration file and report every problem.
    Check {
        /// The TOML configuration file.
        #[arg(long, env = "PALISADE_CONFIG")]
        config: PathBuf,
    },
}

/// Parses the command line and runs it with the plugins and adapters in `registry`.
pub fn main(registry: Registry) -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(execute(cli.command, registry));
    // Don't wait for a terminal read that may never return.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    code
}

async fn execute(command: Command, registry: Registry) -> ExitCode {
    match command {
        Command::Keygen { out } => store_cmd::keygen(&out),
        Command::Store { config: Some(config), action } => {
            let Ok(loaded) = load(&config) else {
                return ExitCode::from(2);
            };
            store_cmd::run(&loaded, &registry, action).await
        }
        Command::Audit { config: Some(config), action } => {
            let Ok(loaded) = load(&config) else { return ExitCode::from(2) };
            audit_cmd::run(&loaded, action).await
        }
        Command::User { config: Some(config), action } => {
            let Ok(loaded) = load(&config) else { return ExitCode::from(2) };
            user_cmd::run(&loaded, &registry, action).await
        }
        Command::Audit { config: None, .. }
        | Command::Store { config: None, .. }
        | Command::User { config: None, .. } => {
            eprintln!("error: this command needs --config FILE (or PALISADE_CONFIG)");
            ExitCode::from(2)
        }
        Command::Config { action: ConfigAction::Check { config } } => check(&config, &registry),
        Command::Run { config } => run(&config, &registry, AdapterChoice::Configured).await,
        Command::Chat { config, user } => run(&config, &registry, AdapterChoice::ConsoleOnly(user)).await,
    }
}

fn load(config: &PathBuf) -> Result<Loaded, ExitCode> {
    let loaded = Loader::new(config).load().map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })?;
    for w in &loaded.warnings {
        eprintln!("warning: {}: {w}", loaded.file.display());
    }
    Ok(loaded)
}

fn check(config: &PathBuf, registry: &Registry) -> ExitCode {
    let Ok(loaded) = load(config) else {
        return ExitCode::from(2);
    };
    let plan = match Plan::new(&loaded, registry, AdapterChoice::Configured) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let names: Vec<_> = plan.plugins.iter().map(|p| p.name()).collect();
    let platforms: Vec<_> = plan.adapters.iter().map(|a| a.platform().to_string()).collect();
    println!(
        "{}: OK ({} plugin(s): {}; {} adapter(s): {})",
        loaded.file.display(),
        names.len(),
        names.join(", "),
        platforms.len(),
        platforms.join(", ")
    );
    ExitCode::SUCCESS
}

async fn run(config: &PathBuf, registry: &Registry, choice: AdapterChoice) -> ExitCode {
    let Ok(loaded) = load(config) else {
        return ExitCode::from(2);
    };
    palisade::logging::init(&loaded.settings.logging);
    let bot = match Bot::build(&loaded, registry, choice).await {
        Ok(bot) => bot,
        Err(e) => return failure(&e),
    };
    let (shutdown, now) = (CancellationToken::new(), CancellationToken::new());
    tokio::spawn(stop_on_signal(shutdown.clone(), now.clone()));
    match bot.run_until(shutdown, now).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => failure(&e),
    }
}

/// Configuration problems exit with 2, everything else with 1.
fn failure(e: &BotError) -> ExitCode {
    eprintln!("error: {e}");
    match e {
        BotError::Config(_) => ExitCode::from(2),
        _ => ExitCode::FAILURE,
    }
}

/// The first SIGTERM or SIGINT stops the bot in bounded time (running handlers finish, queued replies get
/// `[dispatch] shutdown_grace`); a second one stops it at once. Either way the store is flushed and what
/// was not done stays in the journal for the next start.
async fn stop_on_signal(shutdown: CancellationToken, now: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
            tracing::warn!("cannot install signal handlers; stop with the console or kill -9");
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::info!(
            "shutting down: running handlers finish, queued replies get the shutdown grace; signal again to stop at once"
        );
        shutdown.cancel();
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::warn!("second signal: stopping at once; unfinished work is kept for the next start");
        now.cancel();
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        shutdown.cancel();
        let _ = tokio::signal::ctrl_c().await;
        now.cancel();
    }
}
