//! Step-up verification through Telegram: `/2fa setup` (QR photo, code computed from the shown secret), a
//! transfer confirmed with a code whose message is deleted, a replayed code refused, and sensitive commands in
//! a group moved to the private chat.

use std::time::Duration;

use palisade_testkit::telegram::{Call, Failure, FakeApi};
use serde_json::json;

const ANN: u64 = 4242;
const BEN: u64 = 5353;
const CAL: u64 = 6464;
const TEAM: i64 = -100_777;

fn dm(user: u64) -> i64 {
    i64::try_from(user).unwrap()
}

fn deleted(calls: &[Call], chat: i64, message: i32) -> bool {
    calls.iter().any(|c| c.method == "deletemessage" && c.chat_id() == Some(chat) && c.params["message_id"] == message)
}

/// Enrols `user` in their private chat; returns the TOTP secret.
async fn enrol(fake: &FakeApi, user: u64) -> Vec<u8> {
    fake.message(user, dm(user), "/2fa setup");
    let shown = fake.until_sent("send the 6-digit code your app shows").await;
    let text: String = shown.iter().map(Call::text).collect();
    assert!(
        shown
            .iter()
            .any(|c| c.method == "sendphoto" && c.chat_id() == Some(dm(user)) && c.params["photo"]["png"] == true)
    );
    let secret = crate::support::secret_from(&text);
    let (_, code_message) = fake.message(user, dm(user), &palisade_testkit::totp::code_now(&secret, 0));
    fake.until_sent("Two-factor verification is on.").await;
    fake.eventually("the message with the code deleted", |c| deleted(std::slice::from_ref(c), dm(user), code_message))
        .await;
    secret
}

/// Runs `/transfer` up to the code prompt; returns nothing, the prompt having been seen.
async fn transfer_until_prompt(fake: &FakeApi, amount: &str, to: &str) {
    fake.message(ANN, dm(ANN), "/transfer");
    fake.until_sent("How much").await;
    fake.message(ANN, dm(ANN), amount);
    fake.until_sent("Who should receive it?").await;
    fake.message(ANN, dm(ANN), to);
    let asked = fake.until_sent(&format!("to {to}?")).await;
    let keyboard = &asked.last().unwrap().params["reply_markup"]["inline_keyboard"];
    assert_eq!(keyboard[0][0]["text"], "Confirm");
    fake.press(ANN, dm(ANN), 1, keyboard[0][0]["callback_data"].as_str().unwrap());
    let prompt = fake.until_sent("To confirm bank.transfer").await;
    assert_eq!(prompt.last().unwrap().chat_id(), Some(dm(ANN)));
}

#[tokio::test]
async fn enrol_then_transfer_with_step_up_then_a_replayed_code_is_refused() {
    let fake = FakeApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot =
        crate::support::start(crate::support::settings(&fake, json!({})), dir.path(), Duration::from_secs(1)).await;
    let secret = enrol(&fake, ANN).await;

    transfer_until_prompt(&fake, "10", "Bob").await;
    let used = palisade_testkit::totp::code_now(&secret, 1);
    let (_, code_message) = fake.message(ANN, dm(ANN), &used);
    let sent = fake.until_sent("Sent 10.00 to Bob. Your balance is 990.00.").await;
    assert!(deleted(&sent, dm(ANN), code_message), "the code message is deleted before the action resumes");

    tokio::time::sleep(Duration::from_millis(1_500)).await; // the 1 s grant runs out
    transfer_until_prompt(&fake, "5", "Carol").await;
    let (_, replay_message) = fake.message(ANN, dm(ANN), &used);
    let refused = fake.until_sent("That code was already used.").await;
    assert!(deleted(&refused, dm(ANN), replay_message));
    fake.message(ANN, dm(ANN), "/cancel");
    fake.until_sent("Cancelled").await;
    fake.message(ANN, dm(ANN), "/balance");
    fake.until_sent("Your balance is 990.00.").await;

    bot.stop().await.unwrap();
    let texts: Vec<String> =
        fake.calls().iter().filter(|c| c.method == "sendmessage").map(|c| c.text().to_string()).collect();
    assert!(!texts.iter().any(|t| t.contains(&used)), "the code is never echoed");
    crate::support::assert_token_never_logged();
    assert!(palisade_testkit::logs::mentions(&used).is_empty(), "the code is never logged");
}

#[tokio::test]
async fn sensitive_commands_in_a_group_are_answered_privately() {
    let fake = FakeApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot =
        crate::support::start(crate::support::settings(&fake, json!({})), dir.path(), Duration::from_secs(60)).await;

    // Setup asked in a group: the instructions go to the private chat (chat id = user id), the group hears
    // only that a private message was sent.
    fake.message(BEN, TEAM, "/2fa setup");
    let calls = fake.until_sent("I sent you a private message about /2fa setup.").await;
    let private = calls.iter().find(|c| c.text().contains("For your security")).unwrap();
    assert_eq!(private.chat_id(), Some(dm(BEN)));
    assert_eq!(calls.last().unwrap().chat_id(), Some(TEAM));

    // A step-up asked in a group: the code prompt goes to the private chat, the code is answered there.
    let secret = enrol(&fake, BEN).await;
    fake.message(BEN, TEAM, "/2fa status");
    let calls = fake.until_sent("I sent you a private message to confirm this.").await;
    let prompt = calls.iter().find(|c| c.text().contains("To confirm twofactor.status")).unwrap();
    assert_eq!(prompt.chat_id(), Some(dm(BEN)));
    assert_eq!(calls.last().unwrap().chat_id(), Some(TEAM));
    fake.message(BEN, dm(BEN), &palisade_testkit::totp::code_now(&secret, 1));
    let status = fake.until_sent("Recovery codes left").await;
    assert_eq!(status.last().unwrap().chat_id(), Some(dm(BEN)));

    // A user who never opened a private chat with the bot is told so in the group, without any detail.
    fake.fail_next("sendmessage", Failure::Api(403, "Forbidden: bot can't initiate conversation with a user"));
    fake.message(CAL, TEAM, "/2fa setup");
    let calls = fake.until_sent("I could not write to you privately").await;
    assert_eq!(calls.last().unwrap().chat_id(), Some(TEAM));
    assert!(calls.last().unwrap().text().contains("@palisade_test_bot"));
    fake.until_sent("I sent you a private message about /2fa setup.").await;

    bot.stop().await.unwrap();
    crate::support::assert_token_never_logged();
}

/// The key, its QR code and the recovery codes do not stay in the chat: the setup messages are deleted once
/// setup is confirmed, and the recovery codes when Ann says they are saved.
#[tokio::test]
async fn second_factor_messages_are_deleted_from_the_chat() {
    let fake = FakeApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot =
        crate::support::start(crate::support::settings(&fake, json!({})), dir.path(), Duration::from_secs(60)).await;
    fake.message(ANN, dm(ANN), "/2fa setup");
    let shown = fake.until_sent("send the 6-digit code your app shows").await;
    let key = shown.iter().find(|c| c.text().contains("by hand")).unwrap().message_id.unwrap();
    let qr = shown.iter().find(|c| c.method == "sendphoto").unwrap().message_id.unwrap();
    let secret = crate::support::secret_from(&shown.iter().map(Call::text).collect::<String>());
    fake.message(ANN, dm(ANN), &palisade_testkit::totp::code_now(&secret, 0));
    let confirmed = fake.until_sent("Two-factor verification is on.").await;
    let recovery = confirmed.last().unwrap();
    let recovery_id = recovery.message_id.unwrap();
    for message in [key, qr] {
        let gone = |c: &Call| deleted(std::slice::from_ref(c), dm(ANN), i32::try_from(message).unwrap());
        fake.eventually(&format!("message {message} with the key deleted"), gone).await;
    }
    assert!(!fake.calls().iter().any(|c| deleted(
        std::slice::from_ref(c),
        dm(ANN),
        i32::try_from(recovery_id).unwrap()
    )));
    // "I have saved them" takes the recovery codes away.
    let saved = recovery.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"].as_str().unwrap().to_string();
    fake.press(ANN, dm(ANN), i32::try_from(recovery_id).unwrap(), &saved);
    fake.until_sent("I deleted the recovery codes from this chat").await;
    let gone = |c: &Call| deleted(std::slice::from_ref(c), dm(ANN), i32::try_from(recovery_id).unwrap());
    fake.eventually("the recovery codes deleted", gone).await;
    bot.stop().await.unwrap();
}
