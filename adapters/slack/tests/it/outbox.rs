//! Replies addressed to a user's DM with the bot without a channel (alerts to admins) reach it; a message
//! sent first is edited and deleted by the handle its delivery returned.

use palisade_core::{Adapter, ChatRef, Platform, Reply, ReplyBody, Section, UserRef};
use palisade_slack::{Mode, SlackAdapter};
use serde_json::json;

use crate::support::fake::FakeSlack;
use crate::support::{dm, user_id};

#[tokio::test]
async fn a_reply_to_the_users_dm_opens_it_first() {
    let fake = FakeSlack::start().await;
    let table = crate::support::settings(&fake, Mode::Socket, json!({}));
    let adapter = SlackAdapter::from_section(&Section::new("adapters.slack", table).unwrap()).unwrap();
    let admin = UserRef::new(Platform::SLACK, format!("T0FAKE/{}", user_id(1)));
    let reply = Reply {
        chat: ChatRef::direct_with(&admin),
        user: admin.clone(),
        private: true,
        body: ReplyBody::Text { text: "Security alert: 5 × step-up failure".into(), buttons: Vec::new() },
        retract: None,
    };
    adapter.outbox().deliver(&reply).await.unwrap();
    let calls = fake.until_said("Security alert").await;
    assert!(calls.iter().any(|c| c.method == "conversations.open"), "{calls:?}");
    assert_eq!(calls.last().unwrap().channel(), dm(1), "posted in the DM, not to a channel named after the user");
}

#[tokio::test]
async fn a_message_sent_first_is_edited_and_deleted_by_its_handle() {
    let fake = FakeSlack::start().await;
    let table = crate::support::settings(&fake, Mode::Socket, json!({}));
    let adapter = SlackAdapter::from_section(&Section::new("adapters.slack", table).unwrap()).unwrap();
    let ann = UserRef::new(Platform::SLACK, format!("T0FAKE/{}", user_id(1)));
    let reply =
        |body| Reply { chat: ChatRef::direct_with(&ann), user: ann.clone(), private: true, body, retract: None };
    let outbox = adapter.outbox();
    let text = ReplyBody::Text { text: "The meeting moved.".into(), buttons: Vec::new() };
    let id = outbox.deliver(&reply(text)).await.unwrap().unwrap();
    let posted = fake.until_said("The meeting moved.").await.pop().unwrap();
    assert_eq!(id.0, format!("{}:{}", dm(1), posted.answer["ts"].as_str().unwrap()));

    let edit = ReplyBody::Edit { message: id.clone(), text: "The meeting moved to 3pm.".into() };
    outbox.deliver(&reply(edit)).await.unwrap();
    let update = fake.until("chat.update", |c| c.method == "chat.update").await.pop().unwrap();
    assert_eq!((update.channel(), update.params["ts"].clone()), (dm(1).as_str(), posted.answer["ts"].clone()));
    assert_eq!(update.params["text"], "The meeting moved to 3pm.");

    outbox.deliver(&reply(ReplyBody::Delete(id))).await.unwrap();
    let delete = fake.until("chat.delete", |c| c.method == "chat.delete").await.pop().unwrap();
    assert_eq!(delete.params["ts"], posted.answer["ts"]);
}
