//! The Events API listener on loopback: requests signed independently (by Python's `hmac`) are handled;
//! forged, stale, tampered and unsigned ones are refused with 401 and never reach the dispatcher;
//! `url_verification` is answered; a retried event is handled once; slash commands and interactivity
//! payloads work, including a step-up through a modal; a 429 from the Web API is waited out.

use std::time::Duration;

use crate::support::fake::{Failure, FakeSlack, TEAM};
use crate::support::{Driver, Post, dm, post, user_id};
use axum::http::StatusCode;
use palisade_slack::Mode;
use serde_json::json;

const ANN: u32 = 1;

async fn events_bot(fake: &FakeSlack, dir: &std::path::Path) -> palisade_testkit::Running {
    crate::support::start(crate::support::settings(fake, Mode::Events, json!({})), dir, Duration::from_secs(60)).await
}

fn balance_form(n: u32) -> String {
    serde_urlencoded::to_string([
        ("team_id", TEAM.to_string()),
        ("channel_id", dm(n)),
        ("channel_name", "directmessage".into()),
        ("user_id", user_id(n)),
        ("command", "/balance".into()),
        ("text", String::new()),
        ("trigger_id", format!("1.{n}.balance")),
    ])
    .unwrap()
}

#[tokio::test]
async fn only_authentic_fresh_requests_are_handled() {
    let fake = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = events_bot(&fake, dir.path()).await;
    let addr = bot.listening.unwrap();
    let form = balance_form(ANN);
    let body = form.as_bytes();
    let form_type = "application/x-www-form-urlencoded";
    let ts = crate::support::now().to_string();

    let forged = Post {
        body,
        content_type: form_type,
        signed: Some((ts.clone(), crate::support::python_sign("not-the-secret", &ts, body))),
        retry: None,
    };
    assert_eq!(post(addr, forged).await.0, StatusCode::UNAUTHORIZED);
    let tampered_body = form.replace("balance", "transfer");
    let tampered = Post {
        body: tampered_body.as_bytes(),
        content_type: form_type,
        signed: Some((ts.clone(), crate::support::python_sign(crate::support::SIGNING_SECRET, &ts, body))),
        retry: None,
    };
    assert_eq!(post(addr, tampered).await.0, StatusCode::UNAUTHORIZED);
    let old = (crate::support::now() - 400).to_string();
    let stale = Post {
        body,
        content_type: form_type,
        signed: Some((old.clone(), crate::support::python_sign(crate::support::SIGNING_SECRET, &old, body))),
        retry: None,
    };
    assert_eq!(post(addr, stale).await.0, StatusCode::UNAUTHORIZED);
    let future = (crate::support::now() + 400).to_string();
    let early = Post {
        body,
        content_type: form_type,
        signed: Some((future.clone(), crate::support::python_sign(crate::support::SIGNING_SECRET, &future, body))),
        retry: None,
    };
    assert_eq!(post(addr, early).await.0, StatusCode::UNAUTHORIZED);
    let unsigned = Post { body, content_type: form_type, signed: None, retry: None };
    assert_eq!(post(addr, unsigned).await.0, StatusCode::UNAUTHORIZED);

    // None of those reached the dispatcher: the first authentic request gets the first reply.
    let (status, answer) = post(addr, Post::form(body)).await;
    assert_eq!((status, answer.as_str()), (StatusCode::OK, ""), "acknowledged at once, answered later");
    let said = fake.until_said("Your balance is 1000.00.").await;
    assert_eq!(said.iter().filter(|c| c.is_message()).count(), 1, "{said:?}");
    assert_eq!(said.last().unwrap().channel(), dm(ANN));

    let reported = bot.rejections.all();
    for reason in ["bad X-Slack-Signature", "stale X-Slack-Request-Timestamp", "missing X-Slack-Signature"] {
        assert!(reported.iter().any(|r| r.starts_with(reason)), "`{reason}` not reported: {reported:?}");
    }
    bot.stop().await.unwrap();
    crate::support::assert_secrets_never_logged();
}

#[tokio::test]
async fn url_verification_is_answered_and_a_retried_event_is_handled_once() {
    let fake = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = events_bot(&fake, dir.path()).await;
    let addr = bot.listening.unwrap();

    let check = json!({ "token": "legacy", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        "type": "url_verification" })
    .to_string();
    let (status, answer) = post(addr, Post::json(check.as_bytes())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&answer).unwrap()["challenge"],
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );

    let event = json!({ "type": "event_callback", "team_id": TEAM, "enterprise_id": null, "event_id": "Ev0RETRY",
        "event_time": 1, "event": { "type": "message", "user": user_id(ANN), "text": "/balance", "channel": dm(ANN),
        "channel_type": "im", "ts": "1700000001.000100" } })
    .to_string();
    assert_eq!(post(addr, Post::json(event.as_bytes())).await.0, StatusCode::OK);
    fake.until_said("Your balance is").await;
    let retried = Post { retry: Some(1), ..Post::json(event.as_bytes()) };
    assert_eq!(post(addr, retried).await.0, StatusCode::OK, "a retry is acknowledged");
    // Events of one conversation are handled in order, so a second handling of the retry would be answered
    // before this next event is.
    let d = Driver { fake: &fake, events: Some(addr) };
    d.message(ANN, &dm(ANN), "/2fa status").await;
    let later = fake.until_said("Two-factor verification is off.").await;
    assert!(!later.iter().any(|c| c.text().contains("Your balance")), "the retry was handled again: {later:?}");
    bot.stop().await.unwrap();

    // After a restart on the same store, the same event delivered again is acknowledged and not handled.
    let bot = events_bot(&fake, dir.path()).await;
    let addr = bot.listening.unwrap();
    assert_eq!(post(addr, Post { retry: Some(2), ..Post::json(event.as_bytes()) }).await.0, StatusCode::OK);
    let d = Driver { fake: &fake, events: Some(addr) };
    d.message(ANN, &dm(ANN), "/2fa status").await;
    let after = fake.until_said("Two-factor verification is off.").await;
    assert!(!after.iter().any(|c| c.text().contains("Your balance")), "handled again after a restart: {after:?}");
    bot.stop().await.unwrap();
}

#[tokio::test]
async fn a_transfer_with_step_up_through_a_modal_over_the_events_api() {
    let fake = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = events_bot(&fake, dir.path()).await;
    let d = Driver { fake: &fake, events: bot.listening };

    d.command(ANN, &dm(ANN), "/2fa setup").await;
    let shown = fake.until_said("send the 6-digit code your app shows").await;
    let text: String = shown.iter().filter(|c| c.is_message()).map(|c| c.text()).collect();
    let secret = crate::support::secret_from(&text);
    d.message(ANN, &dm(ANN), &palisade_testkit::totp::code_now(&secret, 0)).await;
    fake.until_said("Two-factor verification is on.").await;

    d.command(ANN, &dm(ANN), "/transfer").await;
    fake.until_said("How much").await;
    d.message(ANN, &dm(ANN), "25").await;
    fake.until_said("Who should receive it?").await;
    d.message(ANN, &dm(ANN), "Dora").await;
    let asked = fake.until_said("to Dora?").await;
    let confirm = asked.last().unwrap().button("Confirm").unwrap();
    let trigger = d.press(ANN, &dm(ANN), &confirm).await;
    let open = fake.until("views.open", |c| c.method == "views.open").await;
    assert_eq!(open.last().unwrap().params["trigger_id"], trigger);
    let code = palisade_testkit::totp::code_now(&secret, 1);
    d.submit(ANN, &open.last().unwrap().params["view"], &code).await;
    fake.until_said("Sent 25.00 to Dora. Your balance is 975.00.").await;

    // A button the bot never made (or has forgotten) is refused privately and goes no further.
    d.press(ANN, &dm(ANN), "0123456789abcdef0123456789abcdef").await;
    let expired = fake.until_said("This button has expired").await;
    assert_eq!(expired.last().unwrap().method, "response");

    bot.stop().await.unwrap();
    crate::support::assert_secrets_never_logged();
    crate::support::assert_never_logged_by_palisade(&code);
}

#[tokio::test]
async fn a_429_is_waited_out_for_as_long_as_retry_after_says() {
    let fake = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = events_bot(&fake, dir.path()).await;
    let addr = bot.listening.unwrap();
    fake.fail_next("chat.postMessage", Failure::RetryAfter(1));

    let form = balance_form(ANN);
    assert_eq!(post(addr, Post::form(form.as_bytes())).await.0, StatusCode::OK);
    let calls = fake.until_said("Your balance is 1000.00.").await;
    let attempts: Vec<_> = calls.iter().filter(|c| c.method == "chat.postMessage").collect();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0].status, 429);
    assert!(attempts[1].at.duration_since(attempts[0].at) >= Duration::from_secs(1), "Retry-After honoured");

    bot.stop().await.unwrap();
}

#[tokio::test]
async fn private_replies_fall_back_to_the_response_url_where_the_bot_is_not_a_member() {
    let fake = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = events_bot(&fake, dir.path()).await;
    let d = Driver { fake: &fake, events: bot.listening };
    fake.fail_next("chat.postEphemeral", Failure::Api("not_in_channel"));
    fake.fail_next("chat.postMessage", Failure::Api("not_in_channel"));

    d.command(ANN, "C0ELSEWHERE", "/2fa setup").await;
    let calls = fake.until_said("I sent you a private message about /2fa setup.").await;
    let via: Vec<&str> = calls.iter().filter(|c| c.is_message()).map(|c| c.method.as_str()).collect();
    assert_eq!(via, ["response", "response"], "{calls:?}");
    assert!(calls.iter().all(|c| c.method != "response" || c.params.get("response_type").is_none()), "ephemeral");

    bot.stop().await.unwrap();
}

#[tokio::test]
async fn with_rate_tiers_messages_are_paced() {
    let fake = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let table = crate::support::settings(&fake, Mode::Events, json!({ "rate_tiers": true }));
    let bot = crate::support::start(table, dir.path(), Duration::from_secs(60)).await;
    let d = Driver { fake: &fake, events: bot.listening };

    d.command(ANN, &dm(ANN), "/2fa setup").await; // three messages and an upload in one go
    let calls = fake.until_said("send the 6-digit code your app shows").await;
    let posts: Vec<_> = calls.iter().filter(|c| c.method == "chat.postMessage").collect();
    assert_eq!(posts.len(), 2);
    // slack-morphism's model of chat.postMessage: one per second per workspace.
    assert!(posts[1].at.duration_since(posts[0].at) >= Duration::from_millis(900), "paced");

    bot.stop().await.unwrap();
}
