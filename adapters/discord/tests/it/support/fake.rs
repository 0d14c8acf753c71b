//! A fake Discord REST API on 127.0.0.1:0 that serenity reaches through its proxy setting. It records every
//! call (method, path, JSON body or multipart `payload_json`, attached file names) and answers like Discord:
//! messages for follow-ups, edits and channel messages, 204 for deletions and callbacks, empty command
//! lists, a DM channel, and the gateway URL. Failures can be scripted.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use palisade_testkit::fake::Recorder;
use serde_json::{Value, json};

/// One recorded call.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: Method,
    /// The path without `/api/v10`.
    pub path: String,
    /// The JSON body (or multipart `payload_json`), `Null` when there was none.
    pub body: Value,
    /// Names of attached files.
    pub files: Vec<String>,
    /// The Authorization header.
    pub auth: String,
}

impl Call {
    pub fn content(&self) -> &str {
        self.body["content"].as_str().unwrap_or_default()
    }

    pub fn ephemeral(&self) -> bool {
        self.body["flags"].as_u64().is_some_and(|f| f & 64 != 0)
    }

    pub fn is_followup(&self) -> bool {
        self.method == Method::POST && self.path.starts_with("/webhooks/") && !self.path.contains("/messages/")
    }

    /// The custom ids of the buttons in this message.
    pub fn button_ids(&self) -> Vec<String> {
        let rows = self.body["components"].as_array().cloned().unwrap_or_default();
        rows.iter()
            .flat_map(|r| r["components"].as_array().cloned().unwrap_or_default())
            .filter_map(|b| b["custom_id"].as_str().map(str::to_string))
            .collect()
    }
}

#[derive(Default)]
struct Shared {
    calls: Recorder<Call>,
    failures: Mutex<VecDeque<(Method, String, u16, Value)>>,
    next_id: AtomicU64,
    gateway_url: Mutex<String>,
}

/// The running fake.
#[derive(Clone)]
pub struct FakeRest {
    pub url: String,
    shared: Arc<Shared>,
}

impl FakeRest {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared { next_id: AtomicU64::new(9_000_000), ..Shared::default() });
        let app = axum::Router::new().fallback(handle).with_state(shared.clone());
        let url = format!("http://{}", palisade_testkit::fake::serve(app).await);
        Self { url, shared }
    }

    pub fn calls(&self) -> Vec<Call> {
        self.shared.calls.all()
    }

    /// Takes and returns the calls not yet taken.
    pub fn take(&self) -> Vec<Call> {
        self.shared.calls.take()
    }

    /// The next `method` call whose path contains `path_part` fails with `status` and `body`.
    pub fn fail_next(&self, method: Method, path_part: &str, status: u16, body: Value) {
        self.shared.failures.lock().unwrap().push_back((method, path_part.to_string(), status, body));
    }

    pub fn set_gateway(&self, url: &str) {
        *self.shared.gateway_url.lock().unwrap() = url.to_string();
    }

    /// Waits (at most 20 s) until a call satisfies `pred`; returns it.
    pub async fn until(&self, what: &str, pred: impl Fn(&Call) -> bool) -> Call {
        self.shared.calls.eventually(what, pred).await
    }

    /// Waits for a call whose content contains `text`.
    pub async fn until_content(&self, text: &str) -> Call {
        self.until(&format!("with content `{text}`"), |c| c.content().contains(text)).await
    }
}

fn message(id: u64, channel: &str, body: &Value) -> Value {
    json!({
        "id": id.to_string(), "channel_id": channel,
        "author": { "id": "4242", "username": "palisade", "discriminator": "0000", "avatar": null, "bot": true },
        "content": body["content"].as_str().unwrap_or_default(),
        "timestamp": "2025-01-01T00:00:00.000000+00:00", "edited_timestamp": null, "tts": false,
        "mention_everyone": false, "mentions": [], "mention_roles": [], "attachments": [], "embeds": [],
        "pinned": false, "type": 0, "flags": body["flags"].as_u64().unwrap_or(0),
    })
}

async fn read_body(req: Request) -> (Value, Vec<String>) {
    let multipart =
        req.headers().get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("multipart/"));
    if !multipart {
        let bytes = axum::body::to_bytes(req.into_body(), 1 << 24).await.unwrap();
        return (serde_json::from_slice(&bytes).unwrap_or(Value::Null), Vec::new());
    }
    let mut form = Multipart::from_request(req, &()).await.unwrap();
    let (mut body, mut files) = (Value::Null, Vec::new());
    while let Some(field) = form.next_field().await.unwrap() {
        match field.file_name().map(str::to_string) {
            Some(name) => {
                let bytes = field.bytes().await.unwrap();
                assert!(!bytes.is_empty());
                files.push(name);
            }
            None if field.name() == Some("payload_json") => {
                body = serde_json::from_str(&field.text().await.unwrap()).unwrap()
            }
            None => {}
        }
    }
    (body, files)
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().trim_start_matches("/api/v10").to_string();
    let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let (body, files) = read_body(req).await;
    shared.calls.record(Call { method: method.clone(), path: path.clone(), body: body.clone(), files, auth });
    let failure = {
        let mut failures = shared.failures.lock().unwrap();
        let at = failures.iter().position(|(m, p, _, _)| *m == method && path.contains(p.as_str()));
        at.and_then(|i| failures.remove(i))
    };
    if let Some((_, _, status, body)) = failure {
        return (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response();
    }
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method.as_str(), parts.as_slice()) {
        ("DELETE", _) => StatusCode::NO_CONTENT.into_response(),
        ("POST", ["interactions", ..]) => StatusCode::NO_CONTENT.into_response(),
        ("POST", ["webhooks", ..]) | ("PATCH", ["webhooks", ..]) => axum::Json(message(id, "1", &body)).into_response(),
        ("POST", ["channels", channel, "messages"]) => axum::Json(message(id, channel, &body)).into_response(),
        ("PATCH", ["channels", channel, "messages", edited]) => {
            let edited = edited.parse().unwrap_or(id);
            axum::Json(message(edited, channel, &body)).into_response()
        }
        ("POST", ["users", "@me", "channels"]) => {
            let recipient = body["recipient_id"].as_str().unwrap_or("1").to_string();
            axum::Json(json!({ "id": format!("7{recipient}"), "type": 1, "last_message_id": null,
                "recipients": [ { "id": recipient, "username": "someone", "discriminator": "0000", "avatar": null } ] }))
            .into_response()
        }
        ("PUT", ["applications", ..]) => axum::Json(json!([])).into_response(),
        // Standing in for Discord's CDN (the proxy's host is trusted for attachments): no token needed.
        ("GET", ["attachments", _channel, _id, name]) => format!("contents of {name}").into_response(),
        ("GET", ["gateway", ..]) => {
            let url = shared.gateway_url.lock().unwrap().clone();
            axum::Json(json!({ "url": url, "shards": 1,
                "session_start_limit": { "total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1 } }))
            .into_response()
        }
        _ => (StatusCode::NOT_FOUND, axum::Json(json!({ "code": 0, "message": "404: Not Found" }))).into_response(),
    }
}
