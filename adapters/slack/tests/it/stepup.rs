//! Step-up verification through Slack, end to end over Socket Mode: `/2fa setup` (the QR code uploaded into
//! the direct chat, the code computed from the shown secret), a transfer confirmed in a modal opened with the
//! button press's trigger and submitted as `view_submission`, a replayed code refused; and in a channel,
//! private replies as ephemeral messages with the code still asked for in a modal.

use std::time::Duration;

use crate::support::fake::{Call, FakeSlack};
use crate::support::{Driver, dm, user_id};
use palisade_slack::Mode;
use serde_json::{Value, json};

const ANN: u32 = 1;
const BEN: u32 = 2;
const CHANNEL: &str = "C0GENERAL";

/// Enrols user `n` in their direct chat; returns the TOTP secret.
async fn enrol(d: &Driver<'_>, n: u32) -> Vec<u8> {
    d.command(n, &dm(n), "/2fa setup").await;
    let shown = d.fake.until_said("send the 6-digit code your app shows").await;
    let text: String = shown.iter().filter(|c| c.is_message()).map(Call::text).collect();
    let upload = shown.iter().find(|c| c.method == "upload").expect("the QR code was uploaded");
    assert_eq!(upload.params["png"], true);
    let shared = shown.iter().find(|c| c.method == "files.completeUploadExternal").unwrap();
    assert_eq!(shared.channel(), dm(n), "the QR code is shared only in the direct chat");
    assert!(shown.iter().filter(|c| c.is_message()).all(|c| c.channel() == dm(n)));
    let secret = crate::support::secret_from(&text);
    d.message(n, &dm(n), &palisade_testkit::totp::code_now(&secret, 0)).await;
    d.fake.until_said("Two-factor verification is on.").await;
    secret
}

/// Runs `/transfer` in `channel` up to pressing Confirm; returns the `views.open` call that followed.
async fn transfer_until_modal(d: &Driver<'_>, channel: &str, amount: &str, to: &str) -> Call {
    d.command(ANN, channel, "/transfer").await;
    d.fake.until_said("How much").await;
    d.message(ANN, channel, amount).await;
    d.fake.until_said("Who should receive it?").await;
    d.message(ANN, channel, to).await;
    let asked = d.fake.until_said(&format!("to {to}?")).await;
    let confirm = asked.last().unwrap().button("Confirm").expect("a Confirm button");
    assert_eq!(confirm.len(), 32, "the button carries an opaque id, not the plugin's data");
    let trigger = d.press(ANN, channel, &confirm).await;
    let opened = d.fake.until("views.open", |c| c.method == "views.open").await;
    let open = opened.last().unwrap().clone();
    assert_eq!(open.params["trigger_id"], trigger, "the modal is opened with the press's trigger");
    assert_eq!(open.params["view"]["type"], "modal");
    let prompt = open.params["view"]["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(prompt.contains("To confirm bank.transfer"), "{prompt}");
    open
}

#[tokio::test]
async fn enrol_then_transfer_with_a_modal_then_a_replayed_code_is_refused() {
    let fake = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = crate::support::start(
        crate::support::settings(&fake, Mode::Socket, json!({})),
        dir.path(),
        Duration::from_secs(1),
    )
    .await;
    let d = Driver { fake: &fake, events: None };
    let secret = enrol(&d, ANN).await;

    let open = transfer_until_modal(&d, &dm(ANN), "10", "Bob").await;
    let used = palisade_testkit::totp::code_now(&secret, 1);
    d.submit(ANN, &open.params["view"], &used).await;
    let sent = fake.until_said("Sent 10.00 to Bob. Your balance is 990.00.").await;
    assert_eq!(sent.last().unwrap().channel(), dm(ANN));

    tokio::time::sleep(Duration::from_millis(1_500)).await; // the 1 s grant runs out
    let open = transfer_until_modal(&d, &dm(ANN), "5", "Carol").await;
    d.submit(ANN, &open.params["view"], &used).await;
    fake.until_said("That code was already used.").await;
    d.command(ANN, &dm(ANN), "/cancel").await;
    fake.until_said("Cancelled").await;
    d.command(ANN, &dm(ANN), "/balance").await;
    fake.until_said("Your balance is 990.00.").await;

    bot.stop().await.unwrap();
    let calls = fake.calls();
    assert!(!calls.iter().any(|c| c.is_message() && c.text().contains(&used)), "the code is never echoed");
    assert!(calls.iter().all(|c| c.token.is_some()), "every call is authenticated");
    crate::support::assert_secrets_never_logged();
    crate::support::assert_never_logged_by_palisade(&used);
}

#[tokio::test]
async fn in_a_channel_private_replies_are_ephemeral_and_codes_go_into_a_modal() {
    let fake = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = crate::support::start(
        crate::support::settings(&fake, Mode::Socket, json!({})),
        dir.path(),
        Duration::from_secs(60),
    )
    .await;
    let d = Driver { fake: &fake, events: None };

    // Setup asked in a channel: the instructions go only to Ben, ephemerally; the channel hears the pointer.
    d.command(BEN, CHANNEL, "/2fa setup").await;
    let calls = fake.until_said("I sent you a private message about /2fa setup.").await;
    let private = calls.iter().find(|c| c.text().contains("For your security")).unwrap();
    assert_eq!((private.method.as_str(), private.channel()), ("chat.postEphemeral", CHANNEL));
    assert_eq!(private.params["user"], user_id(BEN));
    assert_eq!(calls.last().unwrap().method, "chat.postMessage");

    // A step-up asked in the channel: the code is typed into a modal, and the answer is ephemeral.
    let secret = enrol(&d, BEN).await;
    let trigger = d.command(BEN, CHANNEL, "/2fa status").await;
    let calls = fake.until("views.open", |c| c.method == "views.open").await;
    assert_eq!(calls.last().unwrap().params["trigger_id"], trigger);
    let view: Value = calls.last().unwrap().params["view"].clone();
    d.submit(BEN, &view, &palisade_testkit::totp::code_now(&secret, 1)).await;
    let status = fake.until_said("Recovery codes left").await;
    let status = status.last().unwrap();
    assert_eq!((status.method.as_str(), status.channel()), ("chat.postEphemeral", CHANNEL));

    // Someone else submitting that modal (a forged or replayed view) gets nowhere.
    d.submit(ANN, &view, &palisade_testkit::totp::code_now(&secret, 1)).await;
    d.command(ANN, CHANNEL, "/balance").await;
    let calls = fake.until_said("Your balance is 1000.00.").await;
    assert!(!calls.iter().any(|c| c.text().contains("Recovery codes")), "{calls:?}");

    bot.stop().await.unwrap();
    crate::support::assert_secrets_never_logged();
}

#[tokio::test]
async fn without_a_usable_trigger_the_code_is_asked_for_in_the_direct_chat() {
    let fake = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = crate::support::start(
        crate::support::settings(&fake, Mode::Socket, json!({})),
        dir.path(),
        Duration::from_secs(1),
    )
    .await;
    let d = Driver { fake: &fake, events: None };
    let secret = enrol(&d, ANN).await;

    // Confirmed by typing "yes" in the channel: a message brings no trigger, so no modal can be opened.
    d.command(ANN, CHANNEL, "/transfer").await;
    fake.until_said("How much").await;
    d.message(ANN, CHANNEL, "7").await;
    fake.until_said("Who should receive it?").await;
    d.message(ANN, CHANNEL, "Eve").await;
    fake.until_said("to Eve?").await;
    tokio::time::sleep(Duration::from_secs(3)).await; // the command's trigger has expired by now
    d.message(ANN, CHANNEL, "yes").await;
    let calls = fake.until_said("I sent you a direct message to confirm this.").await;
    let pointer = calls.last().unwrap();
    assert_eq!((pointer.method.as_str(), pointer.channel()), ("chat.postEphemeral", CHANNEL));
    assert!(!calls.iter().any(|c| c.method == "views.open"));
    // The direct chat was opened once (when Ann's /2fa setup in it was confirmed as her DM with the bot).
    let all = fake.calls();
    let opened = all.iter().find(|c| c.method == "conversations.open").expect("the direct chat is opened");
    // slack-morphism sends `users` as a JSON array; Slack documents a comma-separated string. Either names Ann.
    let users = &opened.params["users"];
    assert!(users == &json!(user_id(ANN)) || users == &json!([user_id(ANN)]), "{users}");
    let prompt = calls.iter().find(|c| c.is_message() && c.text().contains("To confirm bank.transfer")).unwrap();
    assert_eq!(prompt.channel(), dm(ANN));
    d.message(ANN, &dm(ANN), &palisade_testkit::totp::code_now(&secret, 1)).await;
    let sent = fake.until_said("Sent 7.00 to Eve.").await;
    assert_eq!(sent.last().unwrap().channel(), CHANNEL, "the action resumes where it was asked");

    // A trigger Slack no longer accepts: the prompt falls back to the direct chat too.
    tokio::time::sleep(Duration::from_millis(1_500)).await; // the 1 s grant runs out
    fake.fail_next("views.open", crate::support::fake::Failure::Api("expired_trigger_id"));
    d.command(ANN, &dm(ANN), "/transfer").await;
    fake.until_said("How much").await;
    d.message(ANN, &dm(ANN), "1").await;
    fake.until_said("Who should receive it?").await;
    d.message(ANN, &dm(ANN), "Fay").await;
    let asked = fake.until_said("to Fay?").await;
    d.press(ANN, &dm(ANN), &asked.last().unwrap().button("Confirm").unwrap()).await;
    let calls = fake.until_said("To confirm bank.transfer").await;
    assert!(calls.iter().any(|c| c.method == "views.open" && c.status == 400));
    assert_eq!(calls.last().unwrap().channel(), dm(ANN));

    bot.stop().await.unwrap();
}

/// The key, its QR code and the recovery codes do not stay in the chat: the key message is deleted and the
/// QR file deleted once setup is confirmed, and the recovery codes when Ann says they are saved.
#[tokio::test]
async fn second_factor_messages_and_files_are_deleted() {
    let fake = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = crate::support::start(
        crate::support::settings(&fake, Mode::Socket, json!({})),
        dir.path(),
        Duration::from_secs(60),
    )
    .await;
    let d = Driver { fake: &fake, events: None };
    d.command(ANN, &dm(ANN), "/2fa setup").await;
    let shown = fake.until_said("send the 6-digit code your app shows").await;
    let key = shown.iter().find(|c| c.is_message() && c.text().contains("by hand")).unwrap();
    let key_ts = key.answer["ts"].as_str().unwrap().to_string();
    let file = shown.iter().find(|c| c.method == "files.getUploadURLExternal").unwrap().answer["file_id"].clone();
    let secret =
        crate::support::secret_from(&shown.iter().filter(|c| c.is_message()).map(Call::text).collect::<String>());
    d.message(ANN, &dm(ANN), &palisade_testkit::totp::code_now(&secret, 0)).await;
    let confirmed = fake.until_said("Two-factor verification is on.").await;
    let recovery =
        confirmed.iter().rev().find(|c| c.text().starts_with("Two-factor verification is on.")).unwrap().clone();
    // The setup messages are taken back before the recovery codes are shown.
    let calls = fake.calls();
    assert!(calls.iter().any(|c| c.method == "chat.delete" && c.params["ts"] == key_ts.as_str()), "the key stays");
    assert!(calls.iter().any(|c| c.method == "files.delete" && c.params["file"] == file), "the QR code stays");
    let saved = recovery.button("I have saved them").expect("a button to say the codes are saved");
    d.press(ANN, &dm(ANN), &saved).await;
    let recovery_ts = recovery.answer["ts"].as_str().unwrap().to_string();
    fake.until("the recovery codes deleted", |c| {
        c.method == "chat.delete" && c.params["ts"] == recovery_ts.as_str() && c.params["channel"] == dm(ANN).as_str()
    })
    .await;
    bot.stop().await.unwrap();
}

#[tokio::test]
async fn a_dm_between_two_people_is_not_a_private_chat_with_the_bot() {
    let fake = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = crate::support::start(
        crate::support::settings(&fake, Mode::Socket, json!({})),
        dir.path(),
        Duration::from_secs(60),
    )
    .await;
    let d = Driver { fake: &fake, events: None };

    // Ben types /2fa setup in his DM with Ann: Slack calls it "directmessage" too, but Ann reads it.
    let between = "D0ANNANDBEN";
    d.command(BEN, between, "/2fa setup").await;
    let calls = fake.until_said("I sent you a private message about /2fa setup.").await;
    assert!(calls.iter().any(|c| c.method == "conversations.open"), "the bot asked which DM is its own: {calls:?}");
    let private = calls.iter().find(|c| c.text().contains("For your security")).expect("setup is refused there");
    assert_eq!(private.method, "chat.postEphemeral", "only Ben sees it: {private:?}");
    assert!(!calls.iter().any(|c| c.text().contains("otpauth") || c.method == "upload"), "{calls:?}");

    // In his own DM with the bot the same command shows the setup.
    enrol(&d, BEN).await;
    bot.stop().await.unwrap();
}
