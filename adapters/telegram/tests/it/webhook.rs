//! The Telegram adapter in webhook mode: setWebhook with the secret at start, deliveries with the right
//! secret processed, wrong or missing secrets refused with 401 and never processed, repeated updates dropped.

use std::time::Duration;

use crate::support::post;
use palisade_testkit::telegram::FakeApi;
use serde_json::{Value, json};

const ANN: i64 = 4242;
const SECRET: &str = "webhook-Secret_0123456789";

/// A message update with an explicit id (the webhook is not fed through the fake's queue).
fn update(fake: &FakeApi, id: u32, text: &str) -> Value {
    let (mut u, _) = fake.message_update(4242, ANN, text);
    u["update_id"] = json!(id);
    u
}

#[tokio::test]
async fn webhook_deliveries_are_authenticated_and_deduplicated() {
    let fake = FakeApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let table = crate::support::settings(
        &fake,
        json!({ "mode": "webhook", "webhook": {
            "listen": "127.0.0.1:0", "path": "/hook", "secret_token": SECRET,
            "public_url": "https://bot.example.invalid/hook", "set_webhook_on_start": true } }),
    );
    let bot = crate::support::start(table, dir.path(), Duration::from_secs(60)).await;
    let addr = bot.listening.unwrap();
    let set = fake.until("setWebhook", |c| c.method == "setwebhook").await;
    let set = &set.last().unwrap().params;
    assert_eq!(set["url"], "https://bot.example.invalid/hook");
    assert_eq!(set["secret_token"], SECRET);

    assert_eq!(post(addr, "/hook", Some(SECRET), &update(&fake, 1, "/balance")).await, 200);
    fake.until_sent("Your balance is 1000.00.").await;

    // Wrong, missing, or differently-cased-but-wrong secrets: 401, and nothing reaches the bot.
    for secret in [Some("wrong"), None, Some(&SECRET[..SECRET.len() - 1]), Some("WEBHOOK-SECRET_0123456789")] {
        assert_eq!(post(addr, "/hook", secret, &update(&fake, 2, "/note stolen")).await, 401, "{secret:?}");
    }
    assert_eq!(post(addr, "/elsewhere", Some(SECRET), &update(&fake, 3, "/notes")).await, 404);

    // The same update delivered twice is handled once.
    let repeated = update(&fake, 4, "/notes");
    assert_eq!(post(addr, "/hook", Some(SECRET), &repeated).await, 200);
    assert_eq!(post(addr, "/hook", Some(SECRET), &repeated).await, 200);
    assert_eq!(post(addr, "/hook", Some(SECRET), &update(&fake, 5, "/balance")).await, 200);
    let calls = fake.until_sent("Your balance is").await;
    let texts: Vec<&str> = calls.iter().filter(|c| c.method == "sendmessage").map(|c| c.text()).collect();
    assert_eq!(texts, ["You have no notes yet. Save one with /note <text>.", "Your balance is 1000.00."]);
    assert!(!fake.calls().iter().any(|c| c.text().contains("title")), "the unauthenticated /note never ran");
    assert_eq!(post(addr, "/hook", Some(SECRET), &json!({ "not": "an update" })).await, 400);

    bot.stop().await.unwrap();
    assert!(!fake.calls().iter().any(|c| c.method == "getupdates"), "no polling in webhook mode");
    crate::support::assert_token_never_logged();
    assert!(!palisade_testkit::logs::text().contains(SECRET), "the webhook secret is never logged");
}

#[tokio::test]
async fn an_update_not_accepted_gets_503_and_its_redelivery_is_handled_once() {
    use palisade::{Adapter, Dispatcher, Platform, Section};

    let fake = FakeApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let table = crate::support::settings(
        &fake,
        json!({ "mode": "webhook", "bot_username": "palisade_test_bot",
                "webhook": { "listen": "127.0.0.1:0", "secret_token": SECRET } }),
    );
    palisade_testkit::logs::capture();
    let adapter =
        palisade_telegram::TelegramAdapter::from_section(&Section::new("adapters.telegram", table).unwrap()).unwrap();
    let mut listening = adapter.listening();
    let plugins: Vec<std::sync::Arc<dyn palisade::Plugin>> =
        vec![std::sync::Arc::new(palisade_notes::Notes::default())];
    let dispatcher = Dispatcher::builder(plugins, palisade_testkit::sled_store(dir.path()).await)
        .outbox(Platform::TELEGRAM, adapter.outbox(), adapter.capabilities())
        .build()
        .unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(Box::new(adapter).run(dispatcher.sink(), stop.clone()));
    let addr = listening.wait_for(Option::is_some).await.unwrap().unwrap();

    // The dispatcher is not running yet, so nothing can record the update: the webhook answers 503 (after
    // waiting a few seconds) and Telegram will deliver it again.
    let first = update(&fake, 10, "/notes");
    assert_eq!(post(addr, "/telegram", Some(SECRET), &first).await, 503);

    let dispatch_stop = tokio_util::sync::CancellationToken::new();
    let dispatching = tokio::spawn(dispatcher.run(dispatch_stop.clone()));
    // The redelivery is accepted (a 503 did not mark it as seen) and handled; a second redelivery is not.
    assert_eq!(post(addr, "/telegram", Some(SECRET), &first).await, 200);
    fake.until_sent("You have no notes yet").await;
    assert_eq!(post(addr, "/telegram", Some(SECRET), &first).await, 200);
    assert_eq!(post(addr, "/telegram", Some(SECRET), &update(&fake, 11, "/note later")).await, 200);
    let calls = fake.until_sent("What title should this note have?").await;
    // Replies of one chat leave in order, so a second answer to update 10 would have come before this one.
    let again = calls.iter().filter(|c| c.method == "sendmessage" && c.text().contains("no notes yet")).count();
    assert_eq!(again, 0, "the redelivered update was handled twice");

    stop.cancel();
    running.await.unwrap().unwrap();
    dispatch_stop.cancel();
    dispatching.await.unwrap();
    crate::support::assert_token_never_logged();
}
