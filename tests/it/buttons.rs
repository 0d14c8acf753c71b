//! Buttons are bound to the person they were shown to, and pressing one checks its command's role and
//! step-up requirement again.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::support::probe::Probe;
use crate::support::{Harness, memory_store};
use palisade::config::{Settings, StepUpSettings};
use palisade::dispatch::Roles;
use palisade::{Event, EventKind};

async fn bot() -> Harness {
    let roles = BTreeMap::from([("operator".to_string(), vec!["console:ann".to_string()])]);
    let stepup = StepUpSettings { grant_ttl: Duration::from_secs(60), ..StepUpSettings::default() };
    let settings = Settings { roles, stepup, ..Settings::default() };
    Harness::bot(vec![Probe::shared()], memory_store().await, settings).await
}

/// `by` pressing the button `data` that was shown to `shown_to`.
fn pressed_by(h: &Harness, shown_to: &str, by: &str, data: &str) -> Event {
    let mut e = palisade_testkit::event(by, "");
    e.kind = h.pressed(shown_to, data).kind;
    e
}

#[tokio::test]
async fn a_button_works_only_for_the_user_it_was_shown_to() {
    let h = bot().await;
    assert_eq!(h.say("ann", "/menu").await, ["Menu"]);
    assert_eq!(h.send(pressed_by(&h, "ann", "ben", "probe:go")).await, ["That button is not for you."]);
    // Data altered on the way (or made up) is no button of ours.
    let EventKind::Button(sealed) = h.pressed("ann", "probe:go").kind else { unreachable!() };
    let mut forged = palisade_testkit::event("ann", "");
    forged.kind = EventKind::Button(sealed.replacen("probe:go", "probe:gone", 1));
    assert_eq!(h.send(forged).await, ["That button is not for you."]);
    assert_eq!(h.press("ann", "probe:made-up").await, ["That button is no longer active."]);
    assert_eq!(h.press("ann", "probe:go").await, ["pressed go"]);
    h.stop().await;
}

#[tokio::test]
async fn a_button_dies_with_its_commands_role() {
    let h = bot().await;
    assert_eq!(h.say("ann", "/menu").await, ["Menu"]);
    h.services().access.set_roles(Roles::from_config(&BTreeMap::new()));
    assert_eq!(h.press("ann", "probe:go").await, ["You are no longer allowed to use /menu."]);
    let audit = h.services().audit.entries_since(0).await.unwrap();
    assert!(audit.iter().any(|e| e.event == "access.refused"), "the refusal is audited");
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_button_from_a_sensitive_command_needs_the_scope_when_pressed() {
    let h = bot().await;
    let enrolled = h.enrol("ann").await;
    assert!(h.say("ann", "/vault").await[0].starts_with("<code prompt>"));
    assert_eq!(h.say("ann", &h.code(&enrolled.secret, 1)).await, ["Vault"]);
    assert_eq!(h.press("ann", "probe:open").await, ["pressed open"], "within the grant");
    tokio::time::advance(Duration::from_secs(61)).await;
    let asked = h.press("ann", "probe:open").await;
    assert!(asked[0].starts_with("<code prompt> To confirm probe.vault"), "the grant ran out: {asked:?}");
    assert_eq!(h.say("ann", &h.code(&enrolled.secret, 1)).await, ["pressed open"], "then it runs as pressed");
    h.stop().await;
}
