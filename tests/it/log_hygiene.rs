//! Logs captured during a full scenario hold no code, secret, token or message text. In a test binary of its
//! own, because the capture is a process-wide subscriber.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::memory_store;
use crate::support::stepup::start;
use palisade::config::StepUpSettings;

fn short_grants() -> StepUpSettings {
    StepUpSettings { grant_ttl: Duration::from_secs(60), ..StepUpSettings::default() }
}

/// A writer that keeps everything logged.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_code_or_secret_reaches_the_logs() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber =
        tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_writer(move || sink.clone()).finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let bot = start(memory_store().await, short_grants());
    let (secret, recovery) = bot.enrol("ann").await;
    bot.h.say("ann", "/transfer").await;
    bot.h.say("ann", "42").await;
    bot.h.say("ann", "Mallory-Recipient").await;
    bot.h.send(crate::support::button("ann", "bank:confirm")).await;
    let code = bot.code(&secret, 1);
    assert!(bot.h.say("ann", &code).await[0].starts_with("Sent 42.00 to Mallory-Recipient"));
    bot.h.say("ann", "/boom").await;
    bot.h.stop().await;
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("step-up attempt"), "the capture works: {logs}");
    for needle in [secret.as_str(), code.as_str(), recovery[0].as_str(), "Mallory-Recipient", "console:ann", "ann"] {
        assert!(!logs.contains(needle), "`{needle}` leaked into the logs:\n{logs}");
    }
}
