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
    palisade_testkit::logs::assert_never_logged(&[&secret, &code, &recovery[0], "Mallory-Recipient", "console:ann"]);
    // Logs of the other tests in this binary are captured too: a word like "cannot" holds "ann", which is no
    // leak; the name on its own is.
    let named = palisade_testkit::logs::mentions_word("ann");
    assert!(named.is_empty(), "the user's name leaked into the logs:\n{}", named.join("\n"));
}
