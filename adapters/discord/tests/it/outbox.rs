//! Replies addressed to a user's DM with the bot without a channel (alerts to admins) reach it; a message
//! sent first is edited and deleted by the handle its delivery returned.

use axum::http::Method;
use palisade_core::{Adapter, ChatRef, Platform, Reply, ReplyBody, Section, UserRef};
use palisade_discord::DiscordAdapter;
use serde_json::json;

use crate::support::Signer;
use crate::support::fake::FakeRest;

#[tokio::test]
async fn a_reply_to_the_users_dm_creates_the_dm_channel_first() {
    let fake = FakeRest::start().await;
    let table = crate::support::settings(&fake, &Signer::generate().public_hex(), json!({}));
    let adapter = DiscordAdapter::from_section(&Section::new("adapters.discord", table).unwrap()).unwrap();
    let admin = UserRef::new(Platform::DISCORD, "80351110224678912");
    let reply = Reply {
        chat: ChatRef::direct_with(&admin),
        user: admin.clone(),
        private: true,
        body: ReplyBody::Text { text: "Security alert: 5 × step-up failure".into(), buttons: Vec::new() },
        retract: None,
    };
    adapter.outbox().deliver(&reply).await.unwrap();
    let sent = fake.until_content("Security alert").await;
    let opened = fake.calls().into_iter().find(|c| c.method == Method::POST && c.path == "/users/@me/channels");
    assert_eq!(opened.expect("the DM channel was created").body["recipient_id"], "80351110224678912");
    assert_eq!(sent.path, "/channels/780351110224678912/messages", "posted in the DM channel, not at the user id");
}

#[tokio::test]
async fn a_message_sent_first_is_edited_and_deleted_by_its_handle() {
    let fake = FakeRest::start().await;
    let table = crate::support::settings(&fake, &Signer::generate().public_hex(), json!({}));
    let adapter = DiscordAdapter::from_section(&Section::new("adapters.discord", table).unwrap()).unwrap();
    let ann = UserRef::new(Platform::DISCORD, "80351110224678912");
    let reply =
        |body| Reply { chat: ChatRef::direct_with(&ann), user: ann.clone(), private: true, body, retract: None };
    let outbox = adapter.outbox();
    let text = ReplyBody::Text { text: "The meeting moved.".into(), buttons: Vec::new() };
    let id = outbox.deliver(&reply(text)).await.unwrap().unwrap();
    fake.until_content("The meeting moved.").await;
    let (channel, message) = id.0.split_once(':').unwrap();
    assert_eq!(channel, "780351110224678912");

    let edit = ReplyBody::Edit { message: id.clone(), text: "The meeting moved to 3pm.".into() };
    outbox.deliver(&reply(edit)).await.unwrap();
    let patched = fake.until_content("The meeting moved to 3pm.").await;
    assert_eq!((patched.method, patched.path), (Method::PATCH, format!("/channels/{channel}/messages/{message}")));

    outbox.deliver(&reply(ReplyBody::Delete(id.clone()))).await.unwrap();
    let deleted = fake.calls().into_iter().find(|c| c.method == Method::DELETE).expect("a deletion");
    assert_eq!(deleted.path, format!("/channels/{channel}/messages/{message}"));
}
