//! Commands and arguments reach the right handler; built-ins, roles and sensitivity are enforced.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::support::probe::Probe;
use crate::support::{Harness, memory_store};
use palisade::dispatch::Roles;

async fn harness() -> Harness {
    let roles = BTreeMap::from([("operator".to_string(), vec!["console:olivia".to_string()])]);
    Harness::start_with(vec![Probe::shared(), Arc::new(palisade_echo::Echo)], memory_store().await, |b| {
        b.roles(Roles::from_config(&roles))
    })
}

#[tokio::test]
async fn arguments_are_split_and_rest_keeps_spacing() {
    let h = harness().await;
    assert_eq!(h.say("u1", "/args one  two   three").await, ["first=one rest=two   three"]);
    assert_eq!(h.say("u1", "/ARGS@somebot x y").await, ["first=x rest=y"]);
    assert_eq!(h.say("u1", "/echo hello world").await, ["hello world"]);
    h.stop().await;
}

#[tokio::test]
async fn missing_arguments_get_the_usage_line() {
    let h = harness().await;
    let r = h.say("u1", "/args").await;
    assert_eq!(r, ["Usage: /args <first> <rest…> — Echo arguments"]);
    h.stop().await;
}

#[tokio::test]
async fn unknown_commands_and_plain_text_are_answered_helpfully() {
    let h = harness().await;
    assert_eq!(h.say("u1", "/nope").await, ["I don't know /nope. Send /help to see what I can do."]);
    assert_eq!(h.say("u1", "hello").await, ["I only understand commands. Send /help to see what I can do."]);
    h.stop().await;
}

#[tokio::test]
async fn help_lists_only_what_the_user_may_run() {
    let h = harness().await;
    let plain = h.say("u1", "/help").await.join("\n");
    assert!(plain.contains("/echo <text…> — Repeat what you say"), "{plain}");
    assert!(plain.contains("/secret [words…] — Sensitive (asks for verification)"), "{plain}");
    assert!(!plain.contains("/staff"), "{plain}");
    let staff = h.say("olivia", "/help").await.join("\n");
    assert!(staff.contains("/staff — Operators only"), "{staff}");
    h.stop().await;
}

#[tokio::test]
async fn roles_are_matched_by_id_not_by_display_name() {
    let h = harness().await;
    assert_eq!(h.say("u1", "/staff").await, ["You are not allowed to use /staff."]);
    let mut impostor = crate::support::event("u1", "/staff");
    impostor.display_name = Some("olivia".into());
    assert_eq!(h.send(impostor).await, ["You are not allowed to use /staff."]);
    assert_eq!(h.say("olivia", "/staff").await, ["ran staff"]);
    h.stop().await;
}

#[tokio::test]
async fn sensitive_commands_fail_closed_without_step_up() {
    let h = harness().await;
    let r = h.say("u1", "/secret").await;
    assert_eq!(r.len(), 1);
    assert!(r[0].contains("needs step-up verification"), "{r:?}");
    h.stop().await;
}

#[tokio::test]
async fn long_replies_are_split_to_the_platform_limit() {
    let h = harness().await;
    h.sink.submit_and_wait(crate::support::event("u1", "/long")).await.unwrap();
    let parts = h.captured.take();
    assert_eq!(parts.len(), 3, "10000 characters at 4096 per message");
    let texts: Vec<String> = parts.iter().map(crate::support::text_of).collect();
    assert!(texts.iter().all(|t| t.chars().count() <= 4096));
    assert_eq!(texts.join(" ").split_whitespace().count(), 2000);
    h.stop().await;
}

#[tokio::test]
async fn conflicting_commands_are_refused_at_build() {
    let err = palisade::Dispatcher::builder(vec![Probe::shared(), Probe::shared()], memory_store().await)
        .build()
        .unwrap_err();
    assert_eq!(err, "plugins `probe` and `probe` both declare /args");
}
