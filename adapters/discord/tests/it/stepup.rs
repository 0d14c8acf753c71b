//! Step-up verification through Discord interactions, with a real dispatcher, the bank plugin and a sled
//! store: `/2fa setup` in a DM (ephemeral secret, QR as an ephemeral attachment, code computed from the
//! shown secret), a transfer in a guild channel confirmed through a **modal** (the code never enters any
//! message), a replayed code refused, a replayed modal request refused with 401, and the "enter code"
//! button that opens the modal where it cannot be the first answer.

use std::time::Duration;

use crate::support::fake::FakeRest;
use crate::support::{ANN, ANN_DM, BEN, Client, Options, Place, Signer, TEAM};
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

/// Enrols Ann in her DM with the bot; returns the TOTP secret.
async fn enrol(fake: &FakeRest, client: &Client) -> Vec<u8> {
    let dm = Place::Dm(ANN_DM);
    let setup = client.post(&crate::support::command(ANN, dm, "2fa", &[("action", "setup")])).await;
    let shown = match setup.kind() {
        4 => {
            assert!(setup.ephemeral(), "the secret is shown to Ann alone");
            setup.content().to_string()
        }
        // Deferred: the secret arrives as the edit of the (DM) original.
        _ => fake.until_content("by hand").await.content().to_string(),
    };
    let secret = crate::support::secret_from(&shown);
    let qr = fake.until("with the QR code", |c| c.files == ["image.png"]).await;
    assert!(qr.is_followup() && qr.ephemeral(), "the QR is an ephemeral attachment: {qr:?}");
    fake.until_content("Then send the 6-digit code").await;
    let code = palisade_testkit::totp::code_now(&secret, 0);
    let done = client.post(&crate::support::command(ANN, dm, "answer", &[("text", &code)])).await;
    if done.kind() == 4 {
        assert!(done.content().starts_with("Two-factor verification is on."), "{done:?}");
        assert!(done.ephemeral());
    } else {
        fake.until_content("Two-factor verification is on.").await;
    }
    // On Discord the second factor is only ever shown ephemerally: nothing stays to be deleted.
    for call in fake.calls() {
        let secretive =
            call.content().contains("by hand") || call.content().contains("recovery codes") || !call.files.is_empty();
        assert!(!secretive || call.ephemeral(), "a second factor left in the chat: {call:?}");
        assert!(!call.content().contains("delete it yourself"), "{call:?}");
    }
    secret
}

/// Runs `/transfer` in the team channel up to the Confirm button; returns its id.
async fn transfer_until_confirm(client: &Client, amount: &str, to: &str) -> String {
    let team = Place::Guild(TEAM);
    client.post(&crate::support::command(ANN, team, "transfer", &[])).await;
    client.post(&crate::support::command(ANN, team, "answer", &[("text", amount)])).await;
    let asked = client.post(&crate::support::command(ANN, team, "answer", &[("text", to)])).await;
    assert!(asked.content().ends_with(&format!("to {to}?")), "{asked:?}");
    asked.button_ids()[0].clone()
}

#[tokio::test]
async fn enrol_then_transfer_through_a_modal_then_a_replayed_code_is_refused() {
    let options = Options { grant_ttl: Duration::from_secs(1), ..Options::default() };
    let (fake, client, bot, _dir) = bot(options).await;
    let secret = enrol(&fake, &client).await;
    let team = Place::Guild(TEAM);

    // Confirm opens the verification modal: the code is typed where only the bot sees it.
    let confirm = transfer_until_confirm(&client, "10", "Bob").await;
    let form = client.post(&crate::support::button(ANN, team, &confirm)).await;
    assert_eq!(form.kind(), 9, "a modal: {form:?}");
    assert_eq!(form.body["data"]["title"], "To confirm bank.transfer");
    assert_eq!(form.body["data"]["components"][0]["components"][0]["type"], 4);
    // The modal says what the code approves: this amount, to this recipient.
    assert_eq!(form.body["data"]["components"][0]["components"][0]["label"], "amount: 10.00, to: Bob");

    // A wrong code is refused privately; the right one resumes the transfer exactly as asked.
    let wrong = client.post(&crate::support::modal(ANN, team, "000000")).await;
    assert!(wrong.ephemeral() && wrong.content().starts_with("Wrong code."), "{wrong:?}");
    let used = palisade_testkit::totp::code_now(&secret, 1);
    let submit = crate::support::modal(ANN, team, &used).to_string();
    let ts = crate::support::now_secs().to_string();
    let signature = client.signer.sign(&ts, &submit);
    let sent = client.post_raw(&submit, Some(&signature), Some(&ts)).await;
    assert_eq!(sent.content(), "Sent 10.00 to Bob. Your balance is 990.00.");
    assert!(!sent.ephemeral());
    // The very same signed submission again is a replay.
    let replay = client.post_raw(&submit, Some(&signature), Some(&ts)).await;
    assert_eq!(replay.status, 401);

    tokio::time::sleep(Duration::from_millis(1_500)).await; // the 1 s grant runs out
    let confirm = transfer_until_confirm(&client, "5", "Carol").await;
    assert_eq!(client.post(&crate::support::button(ANN, team, &confirm)).await.kind(), 9);
    let refused = client.post(&crate::support::modal(ANN, team, &used)).await;
    assert!(refused.ephemeral() && refused.content().starts_with("That code was already used."), "{refused:?}");
    let cancelled = client.post(&crate::support::command(ANN, team, "cancel", &[])).await;
    assert!(cancelled.content().starts_with("Cancelled"), "{cancelled:?}");
    let balance = client.post(&crate::support::command(ANN, team, "balance", &[])).await;
    assert_eq!(balance.content(), "Your balance is 990.00.");

    bot.stop().await.unwrap();
    for call in fake.calls() {
        assert!(!call.body.to_string().contains(&used), "the code is never echoed: {call:?}");
    }
    crate::support::assert_token_never_logged();
    assert!(palisade_testkit::logs::mentions(&used).is_empty(), "the code is never logged");
}

#[tokio::test]
async fn where_a_modal_cannot_be_the_first_answer_an_enter_code_button_opens_it() {
    // Every interaction is deferred at once, so the code prompt arrives as a follow-up.
    let options = Options { ack_within: Some(Duration::ZERO), ..Options::default() };
    let (fake, client, bot, _dir) = bot(options).await;
    let secret = enrol(&fake, &client).await;
    let team = Place::Guild(TEAM);

    let confirm = {
        client.post(&crate::support::command(ANN, team, "transfer", &[])).await;
        fake.until_content("How much").await;
        client.post(&crate::support::command(ANN, team, "answer", &[("text", "7")])).await;
        fake.until_content("Who should receive it?").await;
        client.post(&crate::support::command(ANN, team, "answer", &[("text", "Dan")])).await;
        fake.until_content("Send 7.00 to Dan?").await.button_ids()[0].clone()
    };
    let ack = client.post(&crate::support::button(ANN, team, &confirm)).await;
    assert_eq!(ack.kind(), 6, "a button press is acknowledged silently when deferred");
    let prompt = fake.until_content("To confirm bank.transfer").await;
    assert!(prompt.ephemeral());
    let enter = prompt.button_ids()[0].clone();

    // The button is Ann's alone; for her it opens the form at once.
    let other = client.post(&crate::support::button(BEN, team, &enter)).await;
    assert!(other.content().contains("someone else"));
    let form = client.post(&crate::support::button(ANN, team, &enter)).await;
    assert_eq!(form.kind(), 9);
    client.post(&crate::support::modal(ANN, team, &palisade_testkit::totp::code_now(&secret, 1))).await;
    fake.until_content("Sent 7.00 to Dan. Your balance is 993.00.").await;

    bot.stop().await.unwrap();
    crate::support::assert_token_never_logged();
}
