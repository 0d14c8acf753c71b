//! The adapter conformance suite on the fake Slack, in Events API mode (so repeats and forgeries arrive over
//! HTTP the way Slack's retries and an attacker's requests would). Requests are signed by Python's `hmac`.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use axum::http::StatusCode;
use palisade::{Platform, Section, UserRef};
use palisade_slack::{Mode, SlackAdapter};
use palisade_testkit::conformance::{self, Delivery, Sent, Subject};
use serde_json::json;

use crate::support::fake::{APP_TOKEN, BOT_TOKEN, FakeSlack, TEAM};
use crate::support::{Post, SIGNING_SECRET, dm, post, user_id};

const CHANNEL: &str = "C0GENERAL";

struct Slack {
    fake: FakeSlack,
    events: SocketAddr,
    sent: Mutex<Vec<Sent>>,
}

impl Slack {
    async fn message(&self, n: u32, channel: &str, text: &str) -> Delivery {
        let channel_type = if channel.starts_with('D') { "im" } else { "channel" };
        let body = json!({ "type": "event_callback", "token": "legacy", "team_id": TEAM, "api_app_id": "A0FAKE",
            "event_id": format!("Ev{}", self.fake.next()), "event_time": 1_700_000_001,
            "event": { "type": "message", "user": user_id(n), "text": text, "channel": channel,
                "channel_type": channel_type, "ts": format!("1700000001.{:06}", self.fake.next()), "team": TEAM } });
        self.post(&body).await;
        Delivery(body)
    }

    async fn post(&self, body: &serde_json::Value) {
        let bytes = body.to_string();
        assert_eq!(post(self.events, Post::json(bytes.as_bytes())).await.0, StatusCode::OK);
    }
}

#[async_trait::async_trait]
impl Subject for Slack {
    fn user(&self, n: u32) -> UserRef {
        UserRef::new(Platform::SLACK, format!("{TEAM}/{}", user_id(n)))
    }

    fn secrets(&self) -> Vec<String> {
        [BOT_TOKEN, APP_TOKEN, SIGNING_SECRET].map(str::to_string).to_vec()
    }

    fn max_len(&self) -> usize {
        palisade_slack::CAPABILITIES.max_message_len
    }

    async fn direct(&self, n: u32, text: &str) -> Delivery {
        self.message(n, &dm(n), text).await
    }

    async fn group(&self, n: u32, text: &str) -> Delivery {
        self.message(n, CHANNEL, text).await
    }

    async fn repeat(&self, delivery: &Delivery) {
        let bytes = delivery.0.to_string();
        let mut again = Post::json(bytes.as_bytes());
        again.retry = Some(1);
        assert_eq!(post(self.events, again).await.0, StatusCode::OK, "a retry is acknowledged");
    }

    async fn forge(&self) -> bool {
        let body = json!({ "type": "event_callback", "team_id": TEAM, "event_id": "EvForged",
            "event": { "type": "message", "user": user_id(1), "text": "/say forged", "channel": dm(1) } })
        .to_string();
        let forged = Post {
            body: body.as_bytes(),
            content_type: "application/json",
            signed: Some((crate::support::now().to_string(), "v0=".to_string() + &"0".repeat(64))),
            retry: None,
        };
        assert_eq!(post(self.events, forged).await.0, StatusCode::UNAUTHORIZED);
        let unsigned = Post { body: body.as_bytes(), content_type: "application/json", signed: None, retry: None };
        assert_eq!(post(self.events, unsigned).await.0, StatusCode::UNAUTHORIZED);
        true
    }

    async fn sent(&self, until: &(dyn for<'s> Fn(&'s [Sent]) -> bool + Sync)) -> Vec<Sent> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            {
                let mut sent = self.sent.lock().unwrap();
                for call in self.fake.take().into_iter().filter(|c| c.status == 200) {
                    let private = match call.method.as_str() {
                        "chat.postEphemeral" | "views.open" => true,
                        "chat.postMessage" => call.channel().starts_with('D'),
                        "response" => call.params["response_type"] != "in_channel",
                        _ => continue,
                    };
                    let text = if call.method == "views.open" {
                        call.params["view"].to_string()
                    } else {
                        call.text().to_string()
                    };
                    sent.push(Sent { private, text });
                }
                if until(&sent) {
                    return std::mem::take(&mut *sent);
                }
            }
            assert!(tokio::time::Instant::now() < deadline, "timed out; sent: {:?}", self.sent.lock().unwrap());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn the_slack_adapter_conforms() {
    let fake = FakeSlack::start().await;
    let table = crate::support::settings(&fake, Mode::Events, json!({}));
    let adapter = SlackAdapter::from_section(&Section::new("adapters.slack", table).unwrap()).unwrap();
    let mut listening = adapter.listening();
    let users: Vec<UserRef> =
        (1..=3).map(|n| UserRef::new(Platform::SLACK, format!("{TEAM}/{}", user_id(n)))).collect();
    let bot = conformance::start(Box::new(adapter), palisade_testkit::memory_store().await, &users).await;
    let events = tokio::time::timeout(Duration::from_secs(20), listening.wait_for(Option::is_some)).await;
    let events = events.expect("the events listener starts").unwrap().unwrap();
    let subject = Slack { fake, events, sent: Mutex::default() };
    conformance::run(&subject, &bot).await;
    bot.stop().await.unwrap();
}
