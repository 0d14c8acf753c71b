//! Delivering payloads as a user's actions reach the bot: over the fake's Socket Mode connection, or signed
//! to the events listener.

use std::net::SocketAddr;

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::fake::{FakeSlack, TEAM};
use super::signed::{Post, post};

/// Delivers payloads the way a user's actions reach the bot: over Socket Mode (waiting for the
/// acknowledgement) or signed to the events listener (expecting 200).
pub struct Driver<'a> {
    pub fake: &'a FakeSlack,
    pub events: Option<SocketAddr>,
}

/// A user of the fake workspace.
pub fn user_id(n: u32) -> String {
    format!("U0USER{n}")
}

/// Their direct-message channel (as `conversations.open` in the fake names it).
pub fn dm(n: u32) -> String {
    format!("D{}", user_id(n))
}

impl Driver<'_> {
    /// A message `text` by user `n` in `channel` (`D…` direct, else a channel); returns the event id.
    pub async fn message(&self, n: u32, channel: &str, text: &str) -> String {
        let event_id = format!("Ev{}", self.fake.next());
        let channel_type = if channel.starts_with('D') { "im" } else { "channel" };
        let ts = format!("1700000001.{:06}", self.fake.next());
        let body = json!({ "type": "event_callback", "token": "legacy", "team_id": TEAM, "api_app_id": "A0FAKE",
            "enterprise_id": null, "event_id": event_id, "event_time": 1_700_000_001,
            "event": { "type": "message", "user": user_id(n), "text": text, "channel": channel,
                "channel_type": channel_type, "ts": ts, "team": TEAM } });
        self.event(body).await;
        event_id
    }

    /// Delivers an `event_callback` body as is.
    pub async fn event(&self, body: Value) {
        match self.events {
            None => {
                let id = self.fake.envelope("events_api", body);
                self.fake.acked(&id).await;
            }
            Some(addr) => {
                let bytes = body.to_string();
                assert_eq!(post(addr, Post::json(bytes.as_bytes())).await.0, StatusCode::OK);
            }
        }
    }

    /// The slash command `/name args` by user `n` in `channel`; returns its trigger id.
    pub async fn command(&self, n: u32, channel: &str, line: &str) -> String {
        let (command, text) = line.split_once(' ').unwrap_or((line, ""));
        let trigger = format!("{}.{}.trigger", self.fake.next(), self.fake.next());
        let channel_name = if channel.starts_with('D') { "directmessage" } else { "general" };
        let fields = [
            ("token", "legacy".to_string()),
            ("team_id", TEAM.to_string()),
            ("team_domain", "fake".into()),
            ("channel_id", channel.into()),
            ("channel_name", channel_name.into()),
            ("user_id", user_id(n)),
            ("user_name", "not-an-identity".into()),
            ("command", command.into()),
            ("text", text.into()),
            ("response_url", format!("{}/response/{}", self.fake.base, self.fake.next())),
            ("trigger_id", trigger.clone()),
        ];
        match self.events {
            None => {
                let payload: serde_json::Map<String, Value> =
                    fields.into_iter().map(|(k, v)| (k.into(), json!(v))).collect();
                let id = self.fake.envelope("slash_commands", Value::Object(payload));
                self.fake.acked(&id).await;
            }
            Some(addr) => {
                let form = serde_urlencoded::to_string(fields).unwrap();
                assert_eq!(post(addr, Post::form(form.as_bytes())).await.0, StatusCode::OK);
            }
        }
        trigger
    }

    /// An interactivity payload.
    pub async fn interaction(&self, payload: Value) {
        match self.events {
            None => {
                let id = self.fake.envelope("interactive", payload);
                self.fake.acked(&id).await;
            }
            Some(addr) => {
                let form = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
                assert_eq!(post(addr, Post::form(form.as_bytes())).await.0, StatusCode::OK);
            }
        }
    }

    /// User `n` presses the button with opaque `value` on a message in `channel`; returns the trigger id.
    pub async fn press(&self, n: u32, channel: &str, value: &str) -> String {
        let trigger = format!("{}.{}.press", self.fake.next(), self.fake.next());
        let payload = json!({ "type": "block_actions", "team": { "id": TEAM, "domain": "fake" },
            "user": { "id": user_id(n), "team_id": TEAM, "username": "someone", "name": "someone" },
            "api_app_id": "A0FAKE", "trigger_id": trigger, "channel": { "id": channel, "name": "x" },
            "container": { "type": "message", "message_ts": "1700000000.000001", "channel_id": channel },
            "response_url": format!("{}/response/{}", self.fake.base, self.fake.next()),
            "actions": [{ "type": "button", "action_id": "palisade.button.0", "block_id": "b", "value": value,
                "text": { "type": "plain_text", "text": "Confirm" }, "action_ts": "1700000000.1" }] });
        self.interaction(payload).await;
        trigger
    }

    /// User `n` submits `code` in the modal `view` (as `views.open` received it).
    pub async fn submit(&self, n: u32, view: &Value, code: &str) {
        let mut view = view.clone();
        view["id"] = json!(format!("V{}", self.fake.next()));
        view["hash"] = json!("h");
        view["state"] = json!({ "values": { "code": { "code": { "type": "plain_text_input", "value": code } } } });
        let payload = json!({ "type": "view_submission", "team": { "id": TEAM, "domain": "fake" },
            "user": { "id": user_id(n), "team_id": TEAM, "name": "someone" }, "api_app_id": "A0FAKE",
            "trigger_id": "submit.trigger", "view": view });
        self.interaction(payload).await;
    }
}
