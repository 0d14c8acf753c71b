//! The interactions endpoint on loopback, with requests signed here by a key the adapter knows only the
//! public half of: PING → PONG; forged, tampered, unsigned, stale and replayed requests refused with 401 and
//! never processed; slash commands driving a flow with buttons; deferred answers followed up through the
//! (fake) REST API, including after a 429; long replies split at 2000 characters.

use std::time::Duration;

use crate::support::fake::FakeRest;
use crate::support::{ANN, APP, BEN, Client, Options, Place, Signer, TEAM, TOKEN};
use axum::http::Method;
use serde_json::json;

async fn bot(options: Options) -> (FakeRest, Client, palisade_testkit::Running, tempfile::TempDir) {
    let fake = FakeRest::start().await;
    let signer = Signer::generate();
    let dir = tempfile::tempdir().unwrap();
    let table = crate::support::settings(&fake, &signer.public_hex(), json!({}));
    let running = crate::support::start(table, dir.path(), options).await;
    let client = Client::new(running.listening.unwrap(), signer);
    (fake, client, running, dir)
}

#[tokio::test]
async fn ping_pong_and_unauthenticated_requests_are_refused_before_processing() {
    let (fake, client, bot, _dir) = bot(Options::default()).await;

    // Commands were registered globally, with the bot token, including /answer.
    let put = fake.until("registering commands", |c| c.method == Method::PUT).await;
    assert_eq!(put.path, format!("/applications/{APP}/commands"));
    assert_eq!(put.auth, format!("Bot {TOKEN}"));
    let names: Vec<&str> = put.body.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    for name in ["balance", "transfer", "2fa", "echo", "answer"] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }

    let pong = client.post(&crate::support::ping()).await;
    assert_eq!((pong.status, pong.kind()), (200, 1));

    let place = Place::Guild(TEAM);
    let transfer = crate::support::command(ANN, place, "transfer", &[]).to_string();
    let now = crate::support::now_secs().to_string();
    // Signed by another key.
    let forged = Signer::generate().sign(&now, &transfer);
    assert_eq!(client.post_raw(&transfer, Some(&forged), Some(&now)).await.status, 401);
    // Signed by the right key, then altered.
    let signature = client.signer.sign(&now, &transfer);
    let altered = transfer.replace("transfer", "balance");
    assert_eq!(client.post_raw(&altered, Some(&signature), Some(&now)).await.status, 401);
    // The timestamp is part of what is signed.
    let later = (crate::support::now_secs() + 1).to_string();
    assert_eq!(client.post_raw(&transfer, Some(&signature), Some(&later)).await.status, 401);
    // Unsigned, or with garbage.
    assert_eq!(client.post_raw(&transfer, None, Some(&now)).await.status, 401);
    assert_eq!(client.post_raw(&transfer, Some("zz"), Some(&now)).await.status, 401);
    // Correctly signed but stale, or from the future.
    for skew in [-600i64, 600] {
        let ts = crate::support::now_secs().checked_add_signed(skew).unwrap().to_string();
        let signature = client.signer.sign(&ts, &transfer);
        assert_eq!(client.post_raw(&transfer, Some(&signature), Some(&ts)).await.status, 401, "skew {skew}");
    }
    // None of those reached the dispatcher: no transfer flow was started.
    let answer = client.post(&crate::support::command(ANN, place, "answer", &[("text", "10")])).await;
    assert_eq!(answer.status, 200);
    assert!(!answer.content().contains("Who should receive it"), "{answer:?}");

    // A valid request is processed once; the same signed request again is a replay.
    let balance = crate::support::command(ANN, place, "balance", &[]).to_string();
    let ts = crate::support::now_secs().to_string();
    let signature = client.signer.sign(&ts, &balance);
    let first = client.post_raw(&balance, Some(&signature), Some(&ts)).await;
    assert_eq!((first.status, first.kind(), first.content()), (200, 4, "Your balance is 1000.00."));
    assert!(!first.ephemeral());
    assert_eq!(client.post_raw(&balance, Some(&signature), Some(&ts)).await.status, 401);

    let reported = bot.rejections.all();
    for reason in ["missing signature headers", "bad signature", "stale timestamp", "replayed interaction"] {
        assert!(reported.iter().any(|r| r == reason), "`{reason}` not reported: {reported:?}");
    }
    bot.stop().await.unwrap();
    crate::support::assert_token_never_logged();
}

#[tokio::test]
async fn a_slash_command_drives_a_flow_with_opaque_buttons() {
    let (_fake, client, bot, _dir) = bot(Options::default()).await;
    let place = Place::Guild(TEAM);

    let asked = client.post(&crate::support::command(ANN, place, "transfer", &[])).await;
    assert_eq!((asked.kind(), asked.content()), (4, "How much do you want to send?"));
    let next = client.post(&crate::support::command(ANN, place, "answer", &[("text", "12.50")])).await;
    assert_eq!(next.content(), "Who should receive it? (a name or an account number)");
    let confirm = client.post(&crate::support::command(ANN, place, "answer", &[("text", "Bob")])).await;
    assert_eq!(confirm.content(), "Send 12.50 to Bob?");
    let ids = confirm.button_ids();
    assert_eq!(ids.len(), 2);
    assert!(ids.iter().all(|id| id.len() == 32 && !id.contains("confirm") && !id.contains("cancel")));

    // A made-up id, or a real one pressed in another channel, goes nowhere.
    let forged = client.post(&crate::support::button(ANN, place, "confirm")).await;
    assert!(forged.ephemeral() && forged.content().contains("expired"), "{forged:?}");
    let elsewhere = client.post(&crate::support::button(ANN, Place::Guild("400000000000000009"), &ids[1])).await;
    assert!(elsewhere.content().contains("expired"));
    // Another user's press is their own event: it does not touch Ann's flow.
    let ben = client.post(&crate::support::button(BEN, place, &ids[1])).await;
    assert_eq!(ben.status, 200);

    let cancelled = client.post(&crate::support::button(ANN, place, &ids[1])).await;
    assert_eq!((cancelled.kind(), cancelled.content()), (4, "Cancelled; nothing was sent."));
    let balance = client.post(&crate::support::command(ANN, place, "balance", &[])).await;
    assert_eq!(balance.content(), "Your balance is 1000.00.");

    bot.stop().await.unwrap();
}

#[tokio::test]
async fn late_replies_are_deferred_then_edited_or_followed_up_and_long_ones_split() {
    let options = Options { ack_within: Some(Duration::ZERO), ..Options::default() };
    let (fake, client, bot, _dir) = bot(options).await;
    let place = Place::Guild(TEAM);

    // In a guild, a deferral is ephemeral; a public reply then replaces it with a public follow-up.
    let balance = crate::support::command(ANN, place, "balance", &[]);
    let answer = client.post(&balance).await;
    assert_eq!(answer.kind(), 5);
    assert!(answer.ephemeral());
    let token = crate::support::token_of(&balance);
    let followup = fake.until_content("Your balance is 1000.00.").await;
    assert!(followup.is_followup() && !followup.ephemeral());
    assert_eq!(followup.path, format!("/webhooks/{APP}/{token}"));
    assert!(
        fake.calls()
            .iter()
            .any(|c| c.method == Method::DELETE && c.path.ends_with(&format!("{token}/messages/@original")))
    );

    // A private reply edits the ephemeral deferral in place.
    let status = crate::support::command(ANN, place, "2fa", &[("action", "status")]);
    assert_eq!(client.post(&status).await.kind(), 5);
    let token = crate::support::token_of(&status);
    let edit = fake.until_content("Two-factor verification is off").await;
    assert_eq!(
        (edit.method.clone(), edit.path.clone()),
        (Method::PATCH, format!("/webhooks/{APP}/{token}/messages/@original"))
    );

    // A follow-up that meets a 429 is sent again.
    fake.fail_next(
        Method::POST,
        "/webhooks/",
        429,
        json!({ "message": "You are being rate limited.", "retry_after": 0.1, "global": false }),
    );
    let long = "word ".repeat(500);
    let echo = crate::support::command(ANN, place, "echo", &[("text", long.trim())]);
    client.post(&echo).await;
    let token = crate::support::token_of(&echo);
    let parts = |fake: &FakeRest| {
        fake.calls()
            .into_iter()
            .filter(|c| c.path.contains(&token) && c.content().starts_with("word"))
            .collect::<Vec<_>>()
    };
    for _ in 0..100 {
        if parts(&fake).len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let parts = parts(&fake);
    assert_eq!(parts.len(), 3, "one refused with 429, then two parts: {parts:#?}");
    assert!(parts.iter().all(|p| p.content().chars().count() <= 2000));
    assert_eq!(parts[0].content(), parts[1].content(), "the refused part is sent again");
    let joined: String = format!("{} {}", parts[1].content(), parts[2].content());
    assert_eq!(joined, long.trim());

    bot.stop().await.unwrap();
    crate::support::assert_token_never_logged();
}

#[tokio::test]
async fn a_request_replayed_after_a_restart_is_refused() {
    let fake = FakeRest::start().await;
    let signer = Signer::generate();
    let public = signer.public_hex();
    let dir = tempfile::tempdir().unwrap();
    let table = crate::support::settings(&fake, &public, json!({}));
    let bot = crate::support::start(table.clone(), dir.path(), Options::default()).await;
    let client = Client::new(bot.listening.unwrap(), signer);
    let balance = crate::support::command(ANN, Place::Guild(TEAM), "balance", &[]).to_string();
    let ts = crate::support::now_secs().to_string();
    let signature = client.signer.sign(&ts, &balance);
    let first = client.post_raw(&balance, Some(&signature), Some(&ts)).await;
    assert_eq!((first.status, first.content()), (200, "Your balance is 1000.00."));
    bot.stop().await.unwrap();

    // Same store, fresh process memory: the captured request, still inside the freshness window, is refused.
    let bot = crate::support::start(table, dir.path(), Options::default()).await;
    let client = Client::new(bot.listening.unwrap(), client.signer);
    let replay = client.post_raw(&balance, Some(&signature), Some(&ts)).await;
    assert_eq!(replay.status, 401, "{replay:?}");
    assert!(bot.rejections.all().iter().any(|r| r == "replayed interaction"));
    let fresh = client.post(&crate::support::command(ANN, Place::Guild(TEAM), "balance", &[])).await;
    assert_eq!(fresh.content(), "Your balance is 1000.00.", "the bot still answers new requests");
    bot.stop().await.unwrap();
}
