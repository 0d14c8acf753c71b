//! Replies addressed to a user's DM with the bot without a channel (alerts to admins) reach it.

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
