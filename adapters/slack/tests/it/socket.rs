//! Socket Mode against a fake Socket Mode server on loopback: envelopes are acknowledged by id and their
//! payloads handled once (a redelivered envelope or a retried event included); a `disconnect` makes the
//! client reconnect; bad tokens stop the adapter at start with a message saying which one to check.

use std::time::Duration;

use crate::support::fake::{FakeSlack, TEAM};
use crate::support::{Driver, dm, user_id};
use palisade::AdapterError;
use palisade_slack::Mode;
use serde_json::json;

const ANN: u32 = 1;

fn message_event(event_id: &str, text: &str) -> serde_json::Value {
    json!({ "type": "event_callback", "team_id": TEAM, "enterprise_id": null, "event_id": event_id, "event_time": 1,
        "event": { "type": "message", "user": user_id(ANN), "text": text, "channel": dm(ANN), "channel_type": "im",
            "ts": format!("1700000002.{}", event_id.len()) } })
}

#[tokio::test]
async fn envelopes_are_acknowledged_and_handled_once() {
    let fake = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = crate::support::start(
        crate::support::settings(&fake, Mode::Socket, json!({})),
        dir.path(),
        Duration::from_secs(60),
    )
    .await;
    let d = Driver { fake: &fake, events: None };

    d.command(ANN, &dm(ANN), "/balance").await;
    let said = fake.until_said("Your balance is 1000.00.").await;
    assert_eq!(said.last().unwrap().channel(), dm(ANN));
    let opened = said.iter().find(|c| c.method == "apps.connections.open").unwrap();
    assert_eq!(
        opened.token.as_deref(),
        Some(crate::support::fake::APP_TOKEN),
        "the socket is opened with the app token"
    );

    // The same envelope twice, then the same event in a new envelope (as Slack retries): one answer.
    let once = message_event("Ev0ONCE", "/balance");
    fake.envelope_with_id("env-same", "events_api", once.clone());
    fake.acked("env-same").await;
    fake.envelope_with_id("env-same", "events_api", once.clone());
    let again = fake.envelope("events_api", once);
    fake.acked(&again).await;
    // Events of one conversation are handled in order: a second handling would be answered before this.
    d.command(ANN, &dm(ANN), "/2fa status").await;
    let later = fake.until_said("Two-factor verification is off.").await;
    let balances = later.iter().filter(|c| c.is_message() && c.text().contains("Your balance")).count();
    assert_eq!(balances, 1, "{later:?}");
    assert_eq!(fake.acks().iter().filter(|a| a["envelope_id"] == "env-same").count(), 2, "both copies acknowledged");

    // Kinds the bot does not use are acknowledged and dropped.
    let shortcut = fake.envelope(
        "interactive",
        json!({ "type": "shortcut", "callback_id": "x", "trigger_id": "1",
        "user": { "id": user_id(ANN) }, "team": { "id": TEAM } }),
    );
    assert_eq!(fake.acked(&shortcut).await, json!({ "envelope_id": shortcut }));

    bot.stop().await.unwrap();
    crate::support::assert_secrets_never_logged();
}

#[tokio::test]
async fn a_disconnect_request_makes_the_client_reconnect() {
    let fake = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = crate::support::start(
        crate::support::settings(&fake, Mode::Socket, json!({})),
        dir.path(),
        Duration::from_secs(60),
    )
    .await;
    let d = Driver { fake: &fake, events: None };
    d.command(ANN, &dm(ANN), "/balance").await;
    fake.until_said("Your balance is").await;
    assert_eq!(fake.connections(), 1);

    fake.disconnect();
    d.command(ANN, &dm(ANN), "/balance").await;
    fake.until_said("Your balance is").await;
    assert!(fake.connections() >= 2, "reconnected after `disconnect`");

    // A failed handshake is retried within seconds (slack-morphism's default waits 30 s, longer than
    // `until_said` waits).
    let before = fake.connections();
    fake.refuse_handshakes(1);
    fake.disconnect();
    d.command(ANN, &dm(ANN), "/balance").await;
    fake.until_said("Your balance is").await;
    assert!(fake.refused_all(), "the client tried (and was refused) before it reconnected");
    assert!(fake.connections() > before, "reconnected after a refused handshake");
    // What `palisade status` shows followed the link: up, lost, up again.
    let states: Vec<&str> = bot.rejections.states().iter().map(|s| s.label()).collect();
    let at = states.iter().position(|s| *s == "reconnecting").expect("the lost connection was reported");
    assert_eq!(states[0], "connected", "{states:?}");
    assert!(states[at..].contains(&"connected"), "and the new one: {states:?}");

    bot.stop().await.unwrap();
}

#[tokio::test]
async fn bad_tokens_stop_the_adapter_at_start_and_say_which() {
    let fake = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let wrong_app = json!({ "app_token": "xapp-1-A0FAKE-0-wrongwrongwrong" });
    let bot = crate::support::start(
        crate::support::settings(&fake, Mode::Socket, wrong_app),
        dir.path(),
        Duration::from_secs(60),
    )
    .await;
    let Err(AdapterError::Start { reason, .. }) = bot.ended().await else { panic!("expected a start error") };
    assert!(reason.contains("app_token") && !reason.contains("wrongwrong"), "{reason}");

    let dir = tempfile::tempdir().unwrap();
    let wrong_bot = json!({ "bot_token": "xoxb-0-0-wrongwrongwrong" });
    let bot = crate::support::start(
        crate::support::settings(&fake, Mode::Socket, wrong_bot),
        dir.path(),
        Duration::from_secs(60),
    )
    .await;
    let Err(AdapterError::Start { reason, .. }) = bot.ended().await else { panic!("expected a start error") };
    assert!(reason.contains("bot_token") && !reason.contains("wrongwrong"), "{reason}");
    crate::support::assert_secrets_never_logged();
}
