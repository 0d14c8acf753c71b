//! The `palisade` command line. A binary calls [`main`] with the plugins and adapters it was built with; the
//! `palisade` binary of this crate registers the demo plugins and the three platform adapters.
//!
//! # Layout
//!
//! | module | owns |
//! |---|---|
//! | this file | the commands (`run`, `chat`, `config check`, `keygen`, `status`, `reload`) and [`main`] |
//! | `store_cmd` | `palisade store …`: check, stats, sweep, backup, restore, rotate-key |
//! | `audit_cmd` | `palisade audit …`: verify, export |
//! | `user_cmd` | `palisade user …`: export, erase, the rights-request register |
//! | `remote` | those three through the running bot's control socket, and the bot's side of it |
//! | `report` | a command's output gathered as one answer, shown the same way wherever it ran |
//!
//! While a bot runs, `user`, `audit` and `store` go through its control socket (see `palisade::control`)
//! and give the same output and exit codes as when they open the store themselves.
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
mod remote;
mod report;
mod store_cmd;
mod user_cmd;

use remote::Remote;

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
    /// Show the running bot's state: adapters, queues, store, audit chain, rights requests, alerts (exit 3
    /// when no bot runs with this configuration).
    Status {
        /// Which bot.
        #[command(flatten)]
        running: Running,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Make the running bot read its configuration again (as SIGHUP does) and say what took effect.
    Reload {
        /// Which bot.
        #[command(flatten)]
        running: Running,
    },
    /// Write a new random master key to a file readable only by you (mode 0600).
    Keygen {
        /// The file to create; an existing file is never overwritten.
        #[arg(long)]
        out: PathBuf,
    },
    /// Inspect and maintain the encrypted store (through the running bot when one runs).
    Store {
        /// The TOML configuration file.
        #[arg(long, env = "PALISADE_CONFIG", global = true)]
        config: Option<PathBuf>,
        /// What to do.
        #[command(subcommand)]
        action: store_cmd::StoreAction,
    },
}

/// `palisade status` and `palisade reload` options.
#[derive(Debug, clap::Args)]
pub struct Running {
    /// The TOML configuration file of the running bot.
    #[arg(long, env = "PALISADE_CONFIG")]
    pub config: PathBuf,
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
    /// Print every built-in text users read, as a `[texts.<lang>]` table to translate or reword: in English,
    /// or as a configuration words it for a language.
    Texts {
        /// A configuration whose `[texts]` to apply.
        #[arg(long, env = "PALISADE_CONFIG")]
        config: Option<PathBuf>,
        /// The language to print (`de`, `pt-BR`); without it, English.
        #[arg(long)]
        language: Option<String>,
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
            let Ok(loaded) = load(&config) else { return ExitCode::from(2) };
            let out = match &action {
                store_cmd::StoreAction::Backup { out } => Some(out.clone()),
                _ => None,
            };
            match here_or_there(&loaded, Remote::Store(action)).await {
                Ok(answer) => report::emit(answer, out.as_deref()),
                Err(Remote::Store(action)) => report::emit(store_cmd::run(&loaded, &registry, action).await, None),
                Err(_) => ExitCode::FAILURE,
            }
        }
        Command::Audit { config: Some(config), action } => {
            let Ok(loaded) = load(&config) else { return ExitCode::from(2) };
            let out = match &action {
                audit_cmd::AuditAction::Export { out, .. } => out.clone(),
                audit_cmd::AuditAction::Verify { .. } => None,
            };
            match here_or_there(&loaded, Remote::Audit(action)).await {
                Ok(answer) => report::emit(answer, out.as_deref()),
                Err(Remote::Audit(action)) => report::emit(audit_cmd::run(&loaded, action).await, out.as_deref()),
                Err(_) => ExitCode::FAILURE,
            }
        }
        Command::User { config: Some(config), action } => {
            let Ok(loaded) = load(&config) else { return ExitCode::from(2) };
            let out = match &action {
                user_cmd::UserAction::Export { out, .. } => out.clone(),
                _ => None,
            };
            match here_or_there(&loaded, Remote::User(action)).await {
                Ok(answer) => report::emit(answer, out.as_deref()),
                Err(Remote::User(action)) => {
                    report::emit(user_cmd::run(&loaded, &registry, action).await, out.as_deref())
                }
                Err(_) => ExitCode::FAILURE,
            }
        }
        Command::Audit { config: None, .. }
        | Command::Store { config: None, .. }
        | Command::User { config: None, .. } => {
            eprintln!("error: this command needs --config FILE (or PALISADE_CONFIG)");
            ExitCode::from(2)
        }
        Command::Status { running, json } => status(&running.config, json).await,
        Command::Reload { running } => reload(&running.config).await,
        Command::Config { action: ConfigAction::Check { config } } => check(&config, &registry),
        Command::Config { action: ConfigAction::Texts { config, language } } => texts(config.as_ref(), language),
        Command::Run { config } => run(&config, &registry, AdapterChoice::Configured).await,
        Command::Chat { config, user } => run(&config, &registry, AdapterChoice::ConsoleOnly(user)).await,
    }
}

/// The running bot's answer to `remote`, or `remote` back when no bot runs (to be run here). An untrusted
/// socket is an error (the answer says why).
async fn here_or_there(loaded: &Loaded, remote: Remote) -> Result<palisade::control::Answer, Remote> {
    match remote::through_bot(loaded, &remote).await {
        Ok(Some(answer)) => Ok(answer),
        Ok(None) => Err(remote),
        Err(e) => Ok(report::error(2, e)),
    }
}

/// `palisade status`.
/// Why the control socket cannot be asked, when the configuration turns it off.
fn control_off(loaded: &Loaded) -> Option<ExitCode> {
    (!loaded.settings.control.enabled).then(|| {
        eprintln!(
            "error: {} turns the control socket off (`[control] enabled = false`); a running bot cannot be asked",
            loaded.file.display()
        );
        ExitCode::from(2)
    })
}

async fn status(config: &PathBuf, json: bool) -> ExitCode {
    let Ok(loaded) = load(config) else { return ExitCode::from(2) };
    if let Some(code) = control_off(&loaded) {
        return code;
    }
    let socket = loaded.settings.control_socket();
    let answer = match palisade::control::ask(&socket, palisade::control::Request::Status).await {
        Ok(Some(answer)) => answer,
        Ok(None) => {
            if json {
                println!("{{\"running\": false}}");
            } else {
                println!("not running: no bot answers on {}", socket.display());
            }
            return ExitCode::from(3);
        }
        Err(e) => return report::emit(report::error(2, e), None),
    };
    if answer.code != 0 || json {
        return report::emit(answer, None);
    }
    match serde_json::from_str::<palisade::status::Status>(&answer.stdout) {
        Ok(status) => {
            print!("{}", status.render());
            ExitCode::SUCCESS
        }
        Err(e) => report::emit(report::error(1, format!("the bot's status cannot be read: {e}")), None),
    }
}

/// `palisade reload`.
async fn reload(config: &PathBuf) -> ExitCode {
    let Ok(loaded) = load(config) else {
        eprintln!("nothing was reloaded: a running bot keeps the configuration it has until the file is fixed");
        return ExitCode::from(2);
    };
    if let Some(code) = control_off(&loaded) {
        return code;
    }
    let socket = loaded.settings.control_socket();
    match palisade::control::ask(&socket, palisade::control::Request::Reload).await {
        Ok(Some(answer)) => report::emit(answer, None),
        Ok(None) => {
            eprintln!(
                "error: no bot answers on {}; nothing to reload (start it with `palisade run`)",
                socket.display()
            );
            ExitCode::from(3)
        }
        Err(e) => report::emit(report::error(2, e), None),
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

/// `palisade config texts`: the catalogue as TOML, for `[texts.<lang>]`.
fn texts(config: Option<&PathBuf>, language: Option<String>) -> ExitCode {
    let texts = match config {
        Some(config) => {
            let Ok(loaded) = load(config) else { return ExitCode::from(2) };
            match loaded.settings.texts.build() {
                Ok(texts) => texts,
                Err(_) => return ExitCode::from(2),
            }
        }
        None => palisade_core::texts::Texts::default(),
    };
    let tag = language.as_deref().map_or_else(|| "en".to_string(), palisade_core::texts::normalise);
    println!("# The built-in texts users read. Copy the ones to change into your configuration under [texts.{tag}]");
    println!("# (or into the file `[texts] file` names) and reword them; keep each {{name}}: it is filled in.");
    println!("[texts.{tag}]");
    for (key, _) in palisade_core::texts::CATALOGUE {
        let text = texts.get(language.as_deref(), key);
        // A TOML basic string: JSON's escaping is valid TOML for these texts.
        println!("{key} = {}", serde_json::Value::String(text.to_string()));
    }
    ExitCode::SUCCESS
}

async fn run(config: &PathBuf, registry: &Registry, choice: AdapterChoice) -> ExitCode {
    let Ok(loaded) = load(config) else {
        return ExitCode::from(2);
    };
    palisade::logging::init(&loaded.settings.logging);
    let bot = match Bot::build(&loaded, registry, choice).await {
        Ok(bot) => bot.serve_commands(std::sync::Arc::new(remote::SocketCommands)),
        Err(e) => return failure(&e),
    };
    let (shutdown, now) = (CancellationToken::new(), CancellationToken::new());
    tokio::spawn(stop_on_signal(shutdown.clone(), now.clone()));
    tokio::spawn(reload_on_hangup(bot.reloader()));
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

/// SIGHUP reloads the configuration (see `palisade::reload`); the outcome goes to the log and the audit trail.
async fn reload_on_hangup(reloader: std::sync::Arc<palisade::reload::Reloader>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangup) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot install the SIGHUP handler; reload with `palisade reload`");
            return;
        };
        while hangup.recv().await.is_some() {
            // The reloader logs what took effect, or why nothing did.
            let _ = reloader.reload("SIGHUP").await;
        }
    }
    #[cfg(not(unix))]
    let _ = reloader;
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
