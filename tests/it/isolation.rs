//! A panicking, failing or stuck handler costs its user one apology and nothing else.

use std::time::Duration;

use crate::support::probe::Probe;
use crate::support::{Harness, memory_store};
use palisade::config::DispatchSettings;
use palisade::dispatch::APOLOGY;

#[tokio::test]
async fn a_panic_is_contained_and_everyone_keeps_being_served() {
    let h = Harness::start(vec![Probe::shared()], memory_store().await);
    assert_eq!(h.say("u1", "/boom").await, [APOLOGY]);
    assert_eq!(h.say("u1", "/args a b").await, ["first=a rest=b"]);
    assert_eq!(h.say("u2", "/args c d").await, ["first=c rest=d"]);
    h.stop().await;
}

#[tokio::test]
async fn internal_errors_get_an_apology_and_user_errors_their_message() {
    let h = Harness::start(vec![Probe::shared()], memory_store().await);
    assert_eq!(h.say("u1", "/fail").await, [APOLOGY]);
    assert_eq!(h.say("u1", "/oops").await, ["You did it wrong."]);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_stuck_handler_is_abandoned_after_the_timeout() {
    let settings = DispatchSettings { handler_timeout: Duration::from_secs(5), ..DispatchSettings::default() };
    let h = Harness::start_with(vec![Probe::shared()], memory_store().await, |b| b.dispatch_settings(settings));
    assert_eq!(h.say("u1", "/hang").await, [APOLOGY]);
    assert_eq!(h.say("u1", "/args x y").await, ["first=x rest=y"]);
    h.stop().await;
}
