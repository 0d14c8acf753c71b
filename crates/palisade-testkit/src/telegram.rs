//! A fake Bot API server on 127.0.0.1:0: the methods the adapter uses, long polls held for `timeout`,
//! every call recorded, failures injectable. Method names match case-insensitively (teloxide sends
//! `POST /bot<TOKEN>/GetUpdates`).

use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::fake::{Failures, Recorder};
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::time::Instant;

/// A token of the real shape (digits, colon, 35 characters), so teloxide's own redaction is exercised too.
pub const TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
/// The bot's user id, as getMe answers.
pub const BOT_ID: u64 = 999_000;
/// The bot's @username, as getMe answers.
pub const BOT_USERNAME: &str = "palisade_test_bot";

/// One recorded request.
#[derive(Clone, Debug)]
pub struct Call {
    /// Lowercased method name.
    pub method: String,
    /// JSON parameters (multipart text fields as strings; files as `{ "file": name, "len": n }`).
    pub params: Value,
    /// The HTTP status answered.
    pub status: u16,
    /// The message the fake created, for sends (its `message_id`).
    pub message_id: Option<i64>,
}

impl Call {
    /// The `chat_id` parameter, as a number.
    pub fn chat_id(&self) -> Option<i64> {
        as_i64(&self.params["chat_id"])
    }

    /// The `text` parameter (empty without one).
    pub fn text(&self) -> &str {
        self.params["text"].as_str().unwrap_or_default()
    }
}

/// An injected failure for the next call of a method.
#[derive(Clone, Debug)]
pub enum Failure {
    /// 429 with `parameters.retry_after`.
    RetryAfter(u32),
    /// Another error: HTTP status and Telegram's description.
    Api(u16, &'static str),
}

#[derive(Default)]
struct Shared {
    calls: Recorder<Call>,
    updates: Mutex<Vec<Value>>,
    failures: Failures<Failure>,
    next_update: AtomicU32,
    next_message: AtomicI32,
    next_callback: AtomicU32,
    /// When set, at most this many messages per second overall (Telegram's limit for bots), beyond which
    /// sends get 429; the times of recent sends.
    overall_limit: Mutex<Option<(usize, std::collections::VecDeque<Instant>)>>,
    /// Counts getUpdates calls: a poll still waiting when a newer one arrives is ended with 409, as Telegram
    /// does when two processes poll one token.
    polls: AtomicU32,
    /// How many polls were ended that way.
    conflicts: AtomicU32,
}

impl Shared {
    fn record(&self, method: &str, params: Value, status: u16) {
        self.record_result(method, params, status, &Value::Null);
    }

    fn record_result(&self, method: &str, params: Value, status: u16, result: &Value) {
        let message_id = result["message_id"].as_i64();
        self.calls.record(Call { method: method.into(), params, status, message_id });
    }
}

/// The running fake (clones share it).
#[derive(Clone)]
pub struct FakeApi {
    /// Base URL to give the adapter as `api_url` (with a trailing slash, which the adapter must strip).
    pub url: String,
    state: Arc<Shared>,
}

impl FakeApi {
    /// Starts the fake on a free loopback port.
    ///
    /// # Panics
    /// When no port can be bound.
    pub async fn start() -> Self {
        let state = Arc::new(Shared {
            next_update: AtomicU32::new(1000),
            next_message: AtomicI32::new(1),
            next_callback: AtomicU32::new(1),
            ..Shared::default()
        });
        let app = axum::Router::new()
            .route("/{bot}/{method}", axum::routing::post(handle))
            .route("/file/{bot}/{*path}", axum::routing::get(download))
            .with_state(state.clone());
        let addr = crate::fake::serve(app).await;
        Self { url: format!("http://{addr}/"), state }
    }

    /// How many polls were ended because a newer one arrived (two processes polling one token).
    pub fn conflicts(&self) -> u32 {
        self.state.conflicts.load(Ordering::SeqCst)
    }

    /// Queues an update (given without `update_id`); returns its id.
    pub fn push(&self, mut update: Value) -> u32 {
        let id = self.state.next_update.fetch_add(1, Ordering::SeqCst);
        update["update_id"] = json!(id);
        self.state.updates.lock().unwrap_or_else(PoisonError::into_inner).push(update);
        self.state.calls.bump();
        id
    }

    /// An update for `text` from `user` in `chat` (`private` when chat == user, else a supergroup); returns
    /// (update id, message id).
    pub fn message(&self, user: u64, chat: i64, text: &str) -> (u32, i32) {
        let (update, message_id) = self.message_update(user, chat, text);
        (self.push(update), message_id)
    }

    /// The JSON of a message update (without `update_id`), and its message id.
    pub fn message_update(&self, user: u64, chat: i64, text: &str) -> (Value, i32) {
        let message_id = self.state.next_message.fetch_add(1, Ordering::SeqCst);
        let update = json!({ "message": {
            "message_id": message_id, "date": 1_700_000_000, "text": text,
            "from": { "id": user, "is_bot": false, "first_name": "User", "username": format!("user{user}") },
            "chat": chat_json(chat),
        } });
        (update, message_id)
    }

    /// A button press by `user` on message `message_id` in `chat` with callback data `data`; returns the
    /// callback query id.
    pub fn press(&self, user: u64, chat: i64, message_id: i32, data: &str) -> String {
        let (update, id) = self.press_update(user, chat, message_id, data);
        self.push(update);
        id
    }

    /// The JSON of a button press (without `update_id`), and its callback query id.
    pub fn press_update(&self, user: u64, chat: i64, message_id: i32, data: &str) -> (Value, String) {
        let id = format!("cb-{}", self.state.next_callback.fetch_add(1, Ordering::SeqCst));
        let update = json!({ "callback_query": {
            "id": id, "chat_instance": "ci", "data": data,
            "from": { "id": user, "is_bot": false, "first_name": "User" },
            "message": { "message_id": message_id, "date": 1_700_000_000, "text": "buttons", "chat": chat_json(chat),
                "from": { "id": BOT_ID, "is_bot": true, "first_name": "Bot", "username": BOT_USERNAME } },
        } });
        (update, id)
    }

    /// `update` with the next update id, for posting to a webhook instead of queueing for long polls.
    pub fn numbered(&self, mut update: Value) -> Value {
        update["update_id"] = json!(self.state.next_update.fetch_add(1, Ordering::SeqCst));
        update
    }

    /// Enforces at most `per_second` sends per second overall, answering 429 beyond it as Telegram does.
    pub fn enforce_overall_limit(&self, per_second: usize) {
        *self.state.overall_limit.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((per_second, std::collections::VecDeque::new()));
    }

    /// Makes the next call of `method` (lowercase) fail with `failure`.
    pub fn fail_next(&self, method: &str, failure: Failure) {
        self.state.failures.inject(method, failure);
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.state.calls.all()
    }

    /// Waits (at most 20 s) for the first call after those already taken that satisfies `pred`; returns the
    /// calls up to and including it and takes them.
    pub async fn until(&self, what: &str, pred: impl Fn(&Call) -> bool) -> Vec<Call> {
        self.state.calls.until(what, pred).await
    }

    /// Waits (at most 20 s) until any call so far, taken or not, satisfies `pred`; takes nothing.
    pub async fn eventually(&self, what: &str, pred: impl Fn(&Call) -> bool) -> Call {
        self.state.calls.eventually(what, pred).await
    }

    /// Waits for a successful sendMessage whose text contains `needle`; returns the calls up to it.
    pub async fn until_sent(&self, needle: &str) -> Vec<Call> {
        self.until(&format!("a message containing `{needle}`"), |c| {
            c.method == "sendmessage" && c.status == 200 && c.text().contains(needle)
        })
        .await
    }

    /// Takes every call so far.
    pub fn skip_all(&self) {
        self.state.calls.skip_all();
    }

    /// The calls not yet taken.
    pub fn untaken(&self) -> Vec<Call> {
        self.state.calls.untaken()
    }

    /// Takes and returns the calls not yet taken.
    pub fn take(&self) -> Vec<Call> {
        self.state.calls.take()
    }
}

/// A file download (`/file/bot<token>/documents/<file_id>`): its contents.
async fn download(axum::extract::Path((_bot, path)): axum::extract::Path<(String, String)>) -> String {
    format!("contents of {}", path.trim_start_matches("documents/"))
}

/// The JSON of a chat as Telegram describes it: private for positive ids, a supergroup otherwise.
pub fn chat_json(chat: i64) -> Value {
    if chat > 0 {
        json!({ "id": chat, "type": "private", "first_name": "User" })
    } else {
        json!({ "id": chat, "type": "supergroup", "title": "Team" })
    }
}

fn as_i64(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

fn ok(result: Value) -> Response {
    (StatusCode::OK, axum::Json(json!({ "ok": true, "result": result }))).into_response()
}

fn error(status: u16, description: &str, parameters: Option<Value>) -> Response {
    let mut body = json!({ "ok": false, "error_code": status, "description": description });
    if let Some(p) = parameters {
        body["parameters"] = p;
    }
    (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), axum::Json(body)).into_response()
}

async fn params(request: Request) -> Value {
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !multipart {
        // A body that cannot be read is a call without parameters (the fake answers what Telegram would).
        let bytes = axum::body::to_bytes(request.into_body(), 1 << 20).await.unwrap_or_default();
        return serde_json::from_slice(&bytes).unwrap_or_else(|_| json!({}));
    }
    let mut out = serde_json::Map::new();
    let Ok(mut form) = Multipart::from_request(request, &()).await else { return Value::Object(out) };
    while let Ok(Some(field)) = form.next_field().await {
        let name = field.name().unwrap_or_default().to_string();
        let file = field.file_name().map(str::to_string);
        let bytes = field.bytes().await.unwrap_or_default();
        let value = match file {
            Some(f) => json!({ "file": f, "len": bytes.len(), "png": bytes.starts_with(b"\x89PNG") }),
            None => json!(String::from_utf8_lossy(&bytes)),
        };
        out.insert(name, value);
    }
    // teloxide sends files as `photo=attach://<part>` plus a part of that name: resolve the reference.
    let attached: Vec<(String, Value)> = out
        .iter()
        .filter_map(|(k, v)| {
            v.as_str()?.strip_prefix("attach://").and_then(|p| out.get(p)).map(|f| (k.clone(), f.clone()))
        })
        .collect();
    out.extend(attached);
    Value::Object(out)
}

async fn handle(
    State(state): State<Arc<Shared>>,
    Path((bot, method)): Path<(String, String)>,
    req: Request,
) -> Response {
    let method = method.to_ascii_lowercase();
    let params = params(req).await;
    if bot != format!("bot{TOKEN}") {
        state.record(&method, params, 401);
        return error(401, "Unauthorized", None);
    }
    if method.starts_with("send") && over_limit(&state) {
        state.record(&method, params, 429);
        return error(429, "Too Many Requests: retry after 1", Some(json!({ "retry_after": 1 })));
    }
    let failure = state.failures.next(&method);
    match failure {
        Some(Failure::RetryAfter(secs)) => {
            state.record(&method, params, 429);
            let description = format!("Too Many Requests: retry after {secs}");
            return error(429, &description, Some(json!({ "retry_after": secs })));
        }
        Some(Failure::Api(status, description)) => {
            state.record(&method, params, status);
            return error(status, description, None);
        }
        None => {}
    }
    if method == "getupdates" {
        let poll = state.polls.fetch_add(1, Ordering::SeqCst) + 1;
        // Recorded on arrival: that also wakes a poll waiting before this one.
        state.record(&method, params.clone(), 200);
        return match updates(&state, &params, poll).await {
            Some(updates) => ok(updates),
            None => {
                state.conflicts.fetch_add(1, Ordering::SeqCst);
                error(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                    None,
                )
            }
        };
    }
    let result = match method.as_str() {
        "getme" => json!({ "id": BOT_ID, "is_bot": true, "first_name": "Palisade", "username": BOT_USERNAME,
            "can_join_groups": true, "can_read_all_group_messages": false, "supports_inline_queries": false,
            "has_main_web_app": false }),
        "sendmessage" | "sendphoto" | "senddocument" => sent(&state, &method, &params),
        "editmessagetext" => {
            let mut message = sent(&state, "sendmessage", &params);
            message["message_id"] = params["message_id"].clone();
            message
        }
        "deletemessage" | "answercallbackquery" | "setwebhook" | "deletewebhook" => json!(true),
        // A file's contents are `contents of <file_id>`; its path names the id.
        "getfile" => {
            let id = params["file_id"].as_str().unwrap_or_default().to_string();
            json!({ "file_id": id, "file_unique_id": "u", "file_size": format!("contents of {id}").len(),
                    "file_path": format!("documents/{id}") })
        }
        _ => {
            state.record(&method, params, 404);
            return error(404, "Not Found: method not found", None);
        }
    };
    state.record_result(&method, params, 200, &result);
    ok(result)
}

/// Counts a send against the enforced limit; true when it is over (a window slightly under a second, so
/// that loopback jitter between the bot's clock and the fake's cannot make a paced bot look too fast).
fn over_limit(state: &Shared) -> bool {
    let mut limit = state.overall_limit.lock().unwrap_or_else(PoisonError::into_inner);
    let Some((per_second, recent)) = limit.as_mut() else { return false };
    let now = Instant::now();
    while recent.front().is_some_and(|t| now.duration_since(*t) >= Duration::from_millis(950)) {
        recent.pop_front();
    }
    if recent.len() >= *per_second {
        return true;
    }
    recent.push_back(now);
    false
}

fn sent(state: &Shared, method: &str, params: &Value) -> Value {
    let chat = as_i64(&params["chat_id"]).unwrap_or_default();
    let mut message = json!({
        "message_id": state.next_message.fetch_add(1, Ordering::SeqCst), "date": 1_700_000_000,
        "chat": chat_json(chat),
        "from": { "id": BOT_ID, "is_bot": true, "first_name": "Palisade", "username": BOT_USERNAME },
    });
    if method == "sendphoto" {
        message["photo"] = json!([{ "file_id": "f", "file_unique_id": "u", "width": 1, "height": 1 }]);
    } else if method == "senddocument" {
        message["document"] = json!({ "file_id": "f", "file_unique_id": "u" });
    } else {
        message["text"] = params["text"].clone();
    }
    message
}

/// getUpdates: forgets updates below `offset`, returns what is pending, or holds the poll up to `timeout`;
/// `None` when a newer poll (number `poll` is this one's) arrived meanwhile.
async fn updates(state: &Shared, params: &Value, poll: u32) -> Option<Value> {
    let offset = as_i64(&params["offset"]).unwrap_or(0);
    let limit = as_i64(&params["limit"]).map_or(100, |l| l.clamp(1, 100)) as usize;
    let wait = Duration::from_secs(as_i64(&params["timeout"]).unwrap_or(0).max(0) as u64);
    let deadline = Instant::now() + wait;
    let mut rx = state.calls.subscribe();
    loop {
        {
            let mut pending = state.updates.lock().unwrap_or_else(PoisonError::into_inner);
            pending.retain(|u| u["update_id"].as_i64().unwrap_or_default() >= offset);
            if state.polls.load(Ordering::SeqCst) != poll {
                return None;
            }
            if !pending.is_empty() || Instant::now() >= deadline {
                return Some(Value::Array(pending.iter().take(limit).cloned().collect()));
            }
        }
        let _ = tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), rx.changed()).await;
    }
}
