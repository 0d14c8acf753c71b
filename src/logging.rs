//! Log output: human or JSON lines on stderr, filtered by `[logging] level` or `RUST_LOG`.
//!
//! What is logged is decided where events are handled: platform, event kind, command name, outcome and
//! timing; never user ids, chat ids, message text, tokens or codes.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber. Safe to call twice (the second call does nothing).
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match settings.format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
