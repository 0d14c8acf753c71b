//! The Telegram adapter in polling mode against a fake Bot API, with a real dispatcher and sled store: help,
//! the notes flow, button presses, flood control, restarts, and a token that never reaches the logs.

use std::time::{Duration, Instant};

use palisade_testkit::telegram::{BOT_USERNAME, Failure, FakeApi};
use serde_json::json;

const ANN: u64 = 4242;
const TEAM: i64 = -100_777;

fn dm(user: u64) -> i64 {
    i64::try_from(user).unwrap()
}

#[tokio::test]
async fn help_notes_and_buttons_over_long_polling() {
    let fake = FakeApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot =
        crate::support::start(crate::support::settings(&fake, json!({})), dir.path(), Duration::from_secs(60)).await;
    fake.until("getMe", |c| c.method == "getme").await;

    fake.message(ANN, dm(ANN), "/help");
    let help = fake.until_sent("/note").await;
    assert_eq!(help.last().unwrap().chat_id(), Some(dm(ANN)));
    assert!(help.last().unwrap().text().contains("/transfer"));
    assert_eq!(bot.rejections.states(), [palisade_core::Connection::Connected], "reported once, for status");

    // `/cmd@thisbot` is a command in a group; `/cmd@otherbot` is not for us, and plain group text is ignored.
    fake.message(ANN, TEAM, "/help@other_bot");
    fake.message(ANN, TEAM, &format!("/help@{BOT_USERNAME}"));
    let group = fake.until_sent("/note").await;
    let sent: Vec<_> = group.iter().filter(|c| c.method == "sendmessage").collect();
    assert_eq!(sent.len(), 1, "only the addressed /help is answered: {sent:?}");
    assert_eq!(sent[0].chat_id(), Some(TEAM));

    fake.message(ANN, dm(ANN), "/note buy milk");
    fake.until_sent("What title").await;
    fake.message(ANN, dm(ANN), "Groceries");
    fake.until_sent("Saved \u{201c}Groceries\u{201d}").await;
    fake.message(ANN, dm(ANN), "/notes");
    fake.until_sent("1. Groceries — buy milk").await;

    // Buttons carry opaque ids; the press is answered and resolved server-side.
    fake.message(ANN, dm(ANN), "/note delete 1");
    let asked = fake.until_sent("Delete the note").await;
    let keyboard = &asked.last().unwrap().params["reply_markup"]["inline_keyboard"];
    assert_eq!(keyboard[0][0]["text"], "Delete");
    let data = keyboard[0][0]["callback_data"].as_str().unwrap().to_string();
    assert!(data.len() <= 64 && !data.contains("notes") && !data.contains("yes"), "{data}");
    let message_id = 1; // the message under which the button sits; the adapter does not need it
    let query = fake.press(ANN, dm(ANN), message_id, &data);
    fake.until_sent("Deleted.").await;
    fake.eventually("the press answered", |c| {
        c.method == "answercallbackquery"
            && c.params["callback_query_id"] == query.as_str()
            && c.params.get("text").is_none()
    })
    .await;

    // A forged or forgotten button is answered with a notice and goes no further.
    let forged = fake.press(ANN, dm(ANN), message_id, "notes:yes");
    let answer = fake
        .until("the forged press answered", |c| {
            c.method == "answercallbackquery" && c.params["callback_query_id"] == forged.as_str()
        })
        .await;
    assert!(answer.last().unwrap().params["text"].as_str().unwrap().contains("expired"));
    fake.message(ANN, dm(ANN), "/notes");
    let after = fake.until_sent("You have no notes yet").await;
    assert_eq!(after.iter().filter(|c| c.method == "sendmessage").count(), 1, "{after:?}");

    bot.stop().await.unwrap();
    crate::support::assert_token_never_logged();
}

#[tokio::test]
async fn flood_control_is_waited_out_and_the_message_delivered() {
    let fake = FakeApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot =
        crate::support::start(crate::support::settings(&fake, json!({})), dir.path(), Duration::from_secs(60)).await;
    fake.until("getMe", |c| c.method == "getme").await;
    fake.fail_next("sendmessage", Failure::RetryAfter(1));
    fake.message(ANN, dm(ANN), "/balance");
    let refused = fake.until("the 429", |c| c.method == "sendmessage" && c.status == 429).await;
    let at = Instant::now();
    let delivered = fake.until_sent("Your balance is 1000.00.").await;
    assert!(at.elapsed() >= Duration::from_millis(900), "retried only after retry_after");
    assert_eq!(refused.last().unwrap().params, delivered.last().unwrap().params, "the same message again");
    bot.stop().await.unwrap();
    crate::support::assert_token_never_logged();
}

#[tokio::test]
async fn a_restart_does_not_reprocess_handled_updates() {
    let fake = FakeApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let table = crate::support::settings(&fake, json!({ "bot_username": BOT_USERNAME }));
    let bot = crate::support::start(table.clone(), dir.path(), Duration::from_secs(60)).await;
    let (update, _) = fake.message(ANN, dm(ANN), "/balance");
    fake.until_sent("Your balance is").await;
    bot.stop().await.unwrap();
    let polls: Vec<_> = fake.calls().into_iter().filter(|c| c.method == "getupdates").collect();
    assert_eq!(polls.last().unwrap().params["offset"], json!(update + 1), "the offset is confirmed at shutdown");
    assert!(!fake.calls().iter().any(|c| c.method == "getme"), "a configured username needs no getMe");

    fake.skip_all();
    let bot = crate::support::start(table, dir.path(), Duration::from_secs(60)).await;
    let first = fake.until("a poll after the restart", |c| c.method == "getupdates").await;
    assert_eq!(first.last().unwrap().params.get("offset"), None, "a fresh start asks from Telegram's offset");
    fake.until("a second poll", |c| c.method == "getupdates").await;
    fake.message(ANN, dm(ANN), "/notes");
    let after = fake.until_sent("You have no notes yet").await;
    assert!(!after.iter().any(|c| c.text().contains("Your balance")), "the handled update came back: {after:?}");
    bot.stop().await.unwrap();
}

#[tokio::test]
async fn a_rejected_token_stops_the_adapter_with_advice_and_network_errors_are_redacted() {
    let fake = FakeApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    fake.fail_next("getme", Failure::Api(401, "Unauthorized"));
    let bot =
        crate::support::start(crate::support::settings(&fake, json!({})), dir.path(), Duration::from_secs(60)).await;
    let error = bot.ended().await.unwrap_err();
    assert!(error.to_string().contains("check [adapters.telegram] token"), "{error}");

    // Nothing listens here: every request fails with a network error whose URL holds the token.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let table = json!({ "token": palisade_testkit::telegram::TOKEN, "api_url": url, "bot_username": BOT_USERNAME,
                        "poll_timeout": "1s" });
    let bot = crate::support::start(table, dir.path(), Duration::from_secs(60)).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !palisade_testkit::logs::text().contains("network error") {
        assert!(Instant::now() < deadline, "no network error was logged");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The failing polls show in `palisade status` as a link being retried (once polling has started).
    while bot.rejections.states().is_empty() {
        assert!(Instant::now() < deadline, "no connection state was reported");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let states = bot.rejections.states();
    assert!(states.iter().all(|s| s.label() == "reconnecting"), "{states:?}");
    assert!(!format!("{states:?}").contains(palisade_testkit::telegram::TOKEN), "the reason is redacted: {states:?}");
    bot.stop().await.unwrap();
    crate::support::assert_token_never_logged();
}

#[tokio::test]
async fn long_replies_are_split_at_telegrams_limit() {
    let fake = FakeApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot =
        crate::support::start(crate::support::settings(&fake, json!({})), dir.path(), Duration::from_secs(60)).await;
    let long = "word ".repeat(1500);
    fake.message(ANN, dm(ANN), &format!("/note {long}"));
    fake.until_sent("What title").await;
    fake.message(ANN, dm(ANN), "Long");
    fake.until_sent("Saved").await;
    fake.message(ANN, dm(ANN), "/notes");
    let first = fake.until_sent("Your notes:").await.pop().unwrap();
    let second = fake.until("the second part", |c| c.method == "sendmessage").await.pop().unwrap();
    let parts = [first, second];
    assert!(parts.iter().all(|p| p.text().chars().count() <= 4096), "each part fits");
    assert_eq!(parts.iter().map(|p| p.text().split_whitespace().count()).sum::<usize>(), 1500 + 5);
    bot.stop().await.unwrap();
}
