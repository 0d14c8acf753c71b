//! The `palisade` command line. A binary calls [`main`] with the plugins it was built with.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::bot::Bot;
use crate::config::{Loaded, Loader};
use crate::console::ConsoleAdapter;
use crate::plugin::Registry;

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
        Command::Config {
            action: ConfigAction::Check { config },
        } => check(&config, &registry),
        Command::Run { config } => run(&config, &registry, None).await,
        Command::Chat { config, user } => run(&config, &registry, Some(user)).await,
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
    let mut problems = Vec::new();
    let plugins = registry
        .build_plugins(&loaded.settings)
        .map_err(|mut p| problems.append(&mut p))
        .unwrap_or_default();
    let adapters = registry
        .build_adapters(&loaded.settings, None)
        .map_err(|mut p| problems.append(&mut p))
        .unwrap_or_default();
    if !problems.is_empty() {
        eprintln!(
            "error: {}",
            crate::config::ConfigError {
                file: loaded.file.clone(),
                problems
            }
        );
        return ExitCode::from(2);
    }
    let names: Vec<_> = plugins.iter().map(|p| p.name()).collect();
    let platforms: Vec<_> = adapters.iter().map(|a| a.platform().to_string()).collect();
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

async fn run(config: &PathBuf, registry: &Registry, chat_as: Option<Option<String>>) -> ExitCode {
    let Ok(loaded) = load(config) else {
        return ExitCode::from(2);
    };
    crate::logging::init(&loaded.settings.logging);
    let adapters = chat_as.map(|user| {
        let section = loaded.settings.adapters.get("console").cloned().unwrap_or_default();
        let settings: crate::console::ConsoleSettings = crate::config::Section::new("adapters.console", section)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_default();
        let dir = settings
            .image_dir
            .unwrap_or_else(|| loaded.settings.store.path.join("console"));
        vec![Box::new(ConsoleAdapter::stdio(user.unwrap_or(settings.user), dir)) as Box<dyn crate::Adapter>]
    });
    let bot = match Bot::build(&loaded, registry, adapters) {
        Ok(bot) => bot,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    match bot.run(shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn stop_on_signal(shutdown: CancellationToken) {
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
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("shutting down: finishing accepted events, then flushing the store");
    shutdown.cancel();
}
