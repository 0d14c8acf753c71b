//! Logs captured during a full scenario hold no code, secret, token or message text.

use std::time::Duration;

use crate::support::memory_store;
use crate::support::stepup::start;
use palisade::config::StepUpSettings;

fn short_grants() -> StepUpSettings {
    StepUpSettings { grant_ttl: Duration::from_secs(60), ..StepUpSettings::default() }
}

#[tokio::test]
async fn no_code_or_secret_reaches_the_logs() {
    palisade_testkit::logs::capture();
    let bot = start(memory_store().await, short_grants()).await;
    let (secret, recovery) = bot.enrol("ann").await;
    bot.h.say("ann", "/transfer").await;
    bot.h.say("ann", "42").await;
    bot.h.say("ann", "Mallory-Recipient").await;
    bot.h.press("ann", "bank:confirm").await;
    let code = bot.code(&secret, 1);
    assert!(bot.h.say("ann", &code).await[0].starts_with("Sent 42.00 to Mallory-Recipient"));
    bot.h.say("ann", "/boom").await;
    bot.h.stop().await;
    let logs = palisade_testkit::logs::text();
    assert!(logs.contains("step-up attempt"), "the capture works: {logs}");
    // Logs of the other tests in this binary are captured too: a word like "cannot" holds "ann", which is no
    // leak; the name on its own is.
    for needle in [secret.as_str(), code.as_str(), recovery[0].as_str(), "Mallory-Recipient", "console:ann", "ann"] {
        assert!(!holds_word(&logs, needle), "`{needle}` leaked into the logs:\n{logs}");
    }
}

/// Whether `needle` is in `text` other than as a piece of a longer word.
fn holds_word(text: &str, needle: &str) -> bool {
    let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    text.match_indices(needle)
        .any(|(at, _)| !word(text[..at].chars().next_back()) && !word(text[at + needle.len()..].chars().next()))
}

#[test]
fn a_word_is_found_on_its_own_only() {
    assert!(holds_word("user=ann x", "ann"));
    assert!(holds_word("ann", "ann"));
    assert!(holds_word("console:ann", "ann"));
    assert!(!holds_word("it cannot be read; channel", "ann"));
}
