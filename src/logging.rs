//! Log output: human or JSON lines on stderr, filtered by `[logging] level` or `RUST_LOG`.
//!
//! What is logged is decided where events are handled: platform, event kind, outcome and timing, never user
//! ids, chat ids or message text. As a second line of defence every line passes through [`redact`] before
//! it is written, which masks anything shaped like a platform token, an `otpauth://` URI or a bearer
//! credential — so even a library's error that embeds a request URL cannot leak a token. With
//! `[logging] content = true` (for debugging), handlers may log message text at debug level, and that text
//! has digit runs that look like codes masked too.

use std::borrow::Cow;
use std::io::Write;
use std::sync::OnceLock;

use regex::Regex;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::{LogFormat, LogSettings};

/// Token shapes of the platforms shipped with Palisade, masked whatever adapters are running (a foreign
/// token pasted into a message or an error must not reach the log either).
const PLATFORM_TOKENS: [(&str, &str); 6] = [
    // Telegram bot token (also inside /bot<token>/ URLs).
    (r"\d{5,}:[A-Za-z0-9_-]{30,}", "[telegram-token]"),
    // Slack tokens.
    (r"xox[abposr]-[A-Za-z0-9-]{10,}", "[slack-token]"),
    (r"xapp-[A-Za-z0-9-]{10,}", "[slack-token]"),
    // Discord bot token: three base64url segments; interaction tokens in webhook and callback routes.
    (r"[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,}", "[discord-token]"),
    (r"/webhooks/(\d+)/[A-Za-z0-9_.-]{20,}", "/webhooks/$1/[interaction-token]"),
    (r"/interactions/(\d+)/[A-Za-z0-9_.-]{20,}", "/interactions/$1/[interaction-token]"),
];

/// Masks credentials in `text`: the generic shapes, the platform token shapes above, and every shape and
/// exact token adapters registered with [`palisade_adapter_kit::redact`].
pub fn redact(text: &str) -> Cow<'_, str> {
    static REGISTERED: OnceLock<()> = OnceLock::new();
    REGISTERED.get_or_init(|| {
        for (pattern, with) in PLATFORM_TOKENS {
            if let Err(e) = palisade_adapter_kit::redact::register(pattern, with) {
                eprintln!("palisade: {e}");
            }
        }
    });
    palisade_adapter_kit::redact::redact(text)
}

/// Masks credentials and anything that looks like a one-time code (4–10 digit runs) in message text that is
/// about to be logged in debug mode.
pub fn redact_content(text: &str) -> String {
    static CODES: OnceLock<Option<Regex>> = OnceLock::new();
    // Digit runs (codes typed with any separators), and ten letters or digits of the recovery-code alphabet
    // with any punctuation or spacing between them (the verifier ignores everything but letters and digits).
    let codes = CODES.get_or_init(|| {
        Regex::new(
            r"(?i)\d(?:[^\p{L}\p{N}\n]{0,2}\d){3,11}|\b[a-hjkmnp-z2-9](?:[^\p{L}\p{N}\n]{0,2}[a-hjkmnp-z2-9]){9}\b",
        )
        .ok()
    });
    let text = redact(text);
    let masked = match codes {
        Some(re) => re.replace_all(&text, "[digits]").into_owned(),
        None => text.into_owned(),
    };
    escape_controls(&masked)
}

/// `text` with control characters (new lines, carriage returns, escapes) written as escapes, so a message can
/// never start a forged log line or drive the terminal reading the log.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A writer that redacts each write before passing it to stderr.
#[derive(Clone, Copy, Debug, Default)]
pub struct RedactingStderr;

impl Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> MakeWriter<'a> for RedactingStderr {
    type Writer = RedactingStderr;
    fn make_writer(&'a self) -> Self::Writer {
        *self
    }
}

static CONTENT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// True when `[logging] content` asked for message text in debug logs.
pub fn content_enabled() -> bool {
    CONTENT.load(std::sync::atomic::Ordering::Relaxed)
}

/// Libraries that log raw traffic (frames with typed codes, URLs with one-time tickets) at debug/trace level.
const CHATTY: [&str; 7] =
    ["slack_morphism", "tungstenite", "tokio_tungstenite", "serenity", "hyper_util", "reqwest", "teloxide"];

/// `filter` with the chatty libraries capped at `info`, unless the filter names them explicitly.
fn with_quiet_libraries(filter: &str) -> String {
    let mut out = filter.to_string();
    for lib in CHATTY {
        if !filter.contains(lib) {
            out.push_str(&format!(",{lib}=info"));
        }
    }
    out
}

/// Replaces the running subscriber's filter; set by [`init`].
type Reload = Box<dyn Fn(EnvFilter) -> Result<(), String> + Send + Sync>;
static RELOAD: std::sync::OnceLock<Reload> = std::sync::OnceLock::new();

/// Installs the global subscriber. Safe to call twice (the second call does nothing).
pub fn init(settings: &LogSettings) {
    CONTENT.store(settings.content, std::sync::atomic::Ordering::Relaxed);
    let wanted = std::env::var("RUST_LOG").unwrap_or_else(|_| settings.level.clone());
    let filter = EnvFilter::try_new(with_quiet_libraries(&wanted)).unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal: a journal or a file gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_writer(RedactingStderr).with_ansi(ansi);
    let installed = match settings.format {
        LogFormat::Human => {
            let builder = builder.with_env_filter(filter).with_filter_reloading();
            let handle = builder.reload_handle();
            let _ = RELOAD.set(Box::new(move |f| handle.reload(f).map_err(|e| e.to_string())));
            tracing::subscriber::set_global_default(builder.finish())
        }
        LogFormat::Json => {
            let builder = builder.json().with_env_filter(filter).with_filter_reloading();
            let handle = builder.reload_handle();
            let _ = RELOAD.set(Box::new(move |f| handle.reload(f).map_err(|e| e.to_string())));
            tracing::subscriber::set_global_default(builder.finish())
        }
    };
    if installed.is_ok() {
        bridge_library_logs();
    }
}

/// Applies a reloaded `[logging]`: the level (unless `RUST_LOG` is set, which wins as at start) and whether
/// message content is logged. The format and destination stay as started.
pub fn reload(settings: &LogSettings) -> Result<(), String> {
    CONTENT.store(settings.content, std::sync::atomic::Ordering::Relaxed);
    if std::env::var_os("RUST_LOG").is_some() {
        return Ok(());
    }
    let filter = EnvFilter::try_new(with_quiet_libraries(&settings.level))
        .map_err(|e| format!("`logging.level = {:?}` is not a valid filter: {e}", settings.level))?;
    match RELOAD.get() {
        Some(reload) => reload(filter),
        None => Ok(()),
    }
}

/// Libraries that log through the `log` crate (sled) reach the log at warn and error, by way of a thread of
/// their own: sled logs from epoch-reclamation code that runs while a thread is exiting, when the
/// subscriber's thread-local buffers are already gone, and formatting there would abort the process. Here
/// such a record is only queued (or dropped when 1024 are waiting) and written by the forwarding thread.
fn bridge_library_logs() {
    struct Bridge(std::sync::mpsc::SyncSender<(log::Level, String, String)>);
    impl log::Log for Bridge {
        fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
            metadata.level() <= log::Level::Warn
        }
        fn log(&self, record: &log::Record<'_>) {
            if self.enabled(record.metadata()) {
                let _ = self.0.try_send((record.level(), record.target().to_string(), record.args().to_string()));
            }
        }
        fn flush(&self) {}
    }
    let (tx, rx) = std::sync::mpsc::sync_channel::<(log::Level, String, String)>(1024);
    let forward = move || {
        for (level, library, message) in rx {
            if level == log::Level::Error {
                tracing::error!(target: "library", library, "{message}");
            } else {
                tracing::warn!(target: "library", library, "{message}");
            }
        }
    };
    if std::thread::Builder::new().name("palisade-library-logs".into()).spawn(forward).is_ok()
        && log::set_boxed_logger(Box::new(Bridge(tx))).is_ok()
    {
        log::set_max_level(log::LevelFilter::Warn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_uris_are_masked() {
        let line = "error sending request for url (https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/SendMessage)";
        assert_eq!(
            redact(line),
            "error sending request for url (https://api.telegram.org/bot[telegram-token]/SendMessage)"
        );
        assert_eq!(redact("token xoxb-1234567890-abcdefghij leaked"), "token [slack-token] leaked");
        assert_eq!(
            redact("Authorization: Bot MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs"),
            "Authorization: Bot [discord-token]"
        );
        assert_eq!(redact("Authorization: Bearer abcdefghijklmnopqrstuvwxyz"), "Authorization: Bearer [credential]");
        assert_eq!(redact("otpauth://totp/x:y?secret=ABC"), "otpauth://[secret]");
        assert_eq!(redact("GET /hook?token=abc123&x=1"), "GET /hook?token=[redacted]&x=1");
        assert_eq!(redact("nothing to see"), "nothing to see");
        assert_eq!(
            redact("POST /api/v10/webhooks/1234567890/aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDpzZWNyZXQ/messages/@original"),
            "POST /api/v10/webhooks/1234567890/[interaction-token]/messages/@original"
        );
        assert_eq!(redact(r#"route{token: "aW50ZXJhY3Rpb246MTIzNDU2"}"#), r#"route{token: "[redacted]"}"#);
        assert!(matches!(redact("nothing to see"), Cow::Borrowed(_)));
    }

    #[test]
    fn chatty_libraries_stay_at_info_unless_named() {
        let f = with_quiet_libraries("debug");
        assert!(f.starts_with("debug,") && f.contains("slack_morphism=info") && f.contains("tungstenite=info"));
        assert!(!with_quiet_libraries("debug,serenity=trace").contains("serenity=info"));
        assert_eq!(redact("wss://x/link?ticket=abc-123&app_id=A1"), "wss://x/link?ticket=[redacted]&app_id=A1");
    }

    #[test]
    fn content_mode_masks_codes() {
        assert_eq!(redact_content("my code is 123 456 ok"), "my code is [digits] ok");
        assert_eq!(redact_content("send 25 euros"), "send 25 euros");
        assert_eq!(redact_content("k7m2p-9qrst"), "[digits]", "recovery-code shapes are masked too");
        for shape in ["k7m2p.9qrst", "K7M2P_9QRST", "k7 m2p 9q-rst", "k7m2p9qrst", "123-456", "1 2 3 4 5 6"] {
            assert_eq!(redact_content(&format!("code {shape} now")), "code [digits] now", "{shape}");
        }
        assert_eq!(
            redact_content("hi\n  INFO forged line\r\u{1b}[31m"),
            "hi\\n  INFO forged line\\r\\u{1b}[31m",
            "control characters cannot start a line or drive a terminal"
        );
    }
}
