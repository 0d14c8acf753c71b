//! A fake Slack on 127.0.0.1:0: the Web API methods the adapter uses (`POST|GET /api/<method>`), the upload
//! URL files go to, response URLs, and a Socket Mode WebSocket speaking Slack's envelope JSON (`hello`,
//! envelopes pushed by the test, acknowledgements recorded). Every call is recorded with the token it
//! carried; failures can be injected.

use std::collections::{HashMap, VecDeque};

use palisade_testkit::fake::{Failures, Recorder};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde_json::{Value, json};
use tokio::time::Instant;

pub const BOT_TOKEN: &str = "xoxb-1111111111-2222222222-Bx9fakeBotTokenValue";
pub const APP_TOKEN: &str = "xapp-1-A0FAKE-3333333333-fakeAppTokenValue0123456789";
pub const TEAM: &str = "T0TEAM";
pub const BOT_USER: &str = "U0BOT";

/// One recorded request.
#[derive(Clone, Debug)]
pub struct Call {
    /// `chat.postMessage`, `upload`, `response`, …
    pub method: String,
    /// JSON body merged with query parameters (uploads: `{ "len": n, "png": bool }`).
    pub params: Value,
    /// The HTTP status answered — or 400 for an `{ "ok": false }` answer (which Slack sends with 200).
    pub status: u16,
    /// The bearer token sent, if any.
    pub token: Option<String>,
    /// When it arrived.
    pub at: Instant,
    /// What the fake answered (Web API methods), `Null` otherwise.
    pub answer: Value,
}

impl Call {
    pub fn channel(&self) -> &str {
        self.params["channel"].as_str().or(self.params["channel_id"].as_str()).unwrap_or_default()
    }

    pub fn text(&self) -> &str {
        self.params["text"].as_str().unwrap_or_default()
    }

    /// The opaque value of the button labelled `label` in this message.
    pub fn button(&self, label: &str) -> Option<String> {
        let blocks = self.params["blocks"].as_array()?;
        let elements = blocks.iter().filter(|b| b["type"] == "actions").flat_map(|b| b["elements"].as_array().unwrap());
        elements.filter(|e| e["text"]["text"] == label).find_map(|e| e["value"].as_str().map(str::to_string))
    }

    /// A message posted to a channel or ephemerally, or through a response URL.
    pub fn is_message(&self) -> bool {
        matches!(self.method.as_str(), "chat.postMessage" | "chat.postEphemeral" | "response") && self.status == 200
    }
}

/// An injected failure for the next call of a method.
#[derive(Clone, Debug)]
pub enum Failure {
    /// 429 with `Retry-After`.
    RetryAfter(u64),
    /// `{ "ok": false, "error": code }`.
    Api(&'static str),
}

#[derive(Default)]
struct Shared {
    url: Mutex<String>,
    calls: Recorder<Call>,
    failures: Failures<Failure>,
    envelopes: Mutex<VecDeque<String>>,
    acks: Mutex<Vec<Value>>,
    connections: AtomicU32,
    /// WebSocket handshakes still to refuse (503).
    refuse: AtomicU32,
    next: AtomicU32,
    /// Files users shared, by id.
    files: Mutex<HashMap<String, Hosted>>,
}

/// A file a user shared: its name, its bytes, and the base URL its download address names.
type Hosted = (String, Vec<u8>, String);

impl Shared {
    fn bump(&self) {
        self.calls.bump();
    }

    fn record(&self, method: &str, params: Value, status: u16, token: Option<String>) {
        self.record_answer(method, params, status, token, Value::Null);
    }

    fn record_answer(&self, method: &str, params: Value, status: u16, token: Option<String>, answer: Value) {
        self.calls.record(Call { method: method.into(), params, status, token, at: Instant::now(), answer });
    }

    fn next(&self) -> u32 {
        self.next.fetch_add(1, Ordering::SeqCst)
    }
}

/// The running fake.
pub struct FakeSlack {
    /// The Web API base to give the adapter as `api_url`.
    pub api_url: String,
    /// The server's base URL.
    pub base: String,
    state: Arc<Shared>,
}

impl FakeSlack {
    pub async fn start() -> Self {
        let state = Arc::new(Shared { next: AtomicU32::new(1), ..Shared::default() });
        let app = axum::Router::new()
            .route("/api/{method}", any(api))
            .route("/upload/{file}", post(upload))
            .route("/response/{id}", post(response))
            .route("/socket", get(socket))
            .route("/files-pri/{file}/download/{name}", get(download))
            .with_state(state.clone());
        let base = format!("http://{}", palisade_testkit::fake::serve(app).await);
        *state.url.lock().unwrap() = base.clone();
        Self { api_url: format!("{base}/api/"), base, state }
    }

    /// A fresh number for ids.
    pub fn next(&self) -> u32 {
        self.state.next()
    }

    /// A file a user shared: `files.info` names its download address on this fake (on `host` instead of
    /// 127.0.0.1 when given, with this fake's port), where it is served to the bot token only.
    pub fn host_file(&self, id: &str, name: &str, bytes: &[u8], host: Option<&str>) {
        let base = self.state.url.lock().unwrap().clone();
        let base = match host {
            Some(host) => base.replace("127.0.0.1", host),
            None => base,
        };
        self.state.files.lock().unwrap().insert(id.into(), (name.into(), bytes.to_vec(), base));
    }

    /// Makes the next call of `method` fail with `failure`.
    pub fn fail_next(&self, method: &str, failure: Failure) {
        self.state.failures.inject(method, failure);
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.state.calls.all()
    }

    /// Queues a Socket Mode envelope of `kind` around `payload`; returns its envelope id.
    pub fn envelope(&self, kind: &str, payload: Value) -> String {
        let id = format!("env-{}", self.next());
        self.envelope_with_id(&id, kind, payload);
        id
    }

    /// Queues an envelope with a given id (to send one again).
    pub fn envelope_with_id(&self, id: &str, kind: &str, payload: Value) {
        let frame = json!({ "envelope_id": id, "type": kind, "payload": payload,
            "accepts_response_payload": kind != "events_api", "retry_attempt": 0, "retry_reason": "" });
        self.state.envelopes.lock().unwrap().push_back(frame.to_string());
        self.state.bump();
    }

    /// Asks the connected client to reconnect, as Slack does before it recycles a connection.
    pub fn disconnect(&self) {
        let frame = json!({ "type": "disconnect", "reason": "refresh_requested", "debug_info": { "host": "fake" } });
        self.state.envelopes.lock().unwrap().push_back(frame.to_string());
        self.state.bump();
    }

    /// Waits (at most 20 s) until envelope `id` was acknowledged; returns the acknowledgement.
    pub async fn acked(&self, id: &str) -> Value {
        self.wait(&format!("the acknowledgement of {id}"), || {
            self.state.acks.lock().unwrap().iter().find(|a| a["envelope_id"] == id).cloned()
        })
        .await
    }

    /// Every acknowledgement so far.
    pub fn acks(&self) -> Vec<Value> {
        self.state.acks.lock().unwrap().clone()
    }

    /// Refuses the next `n` WebSocket handshakes, as a Slack edge having a bad moment does.
    pub fn refuse_handshakes(&self, n: u32) {
        self.state.refuse.store(n, Ordering::SeqCst);
    }

    /// Whether every handshake [`FakeSlack::refuse_handshakes`] asked to refuse was refused.
    pub fn refused_all(&self) -> bool {
        self.state.refuse.load(Ordering::SeqCst) == 0
    }

    /// How many Socket Mode connections were opened.
    pub fn connections(&self) -> u32 {
        self.state.connections.load(Ordering::SeqCst)
    }

    async fn wait<T>(&self, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
        self.state.calls.wait_for(what, |_| check()).await
    }

    /// Waits for the first call after those already taken that satisfies `pred`; returns the calls up to and
    /// including it and takes them.
    pub async fn until(&self, what: &str, pred: impl Fn(&Call) -> bool) -> Vec<Call> {
        self.state.calls.until(what, pred).await
    }

    /// Takes and returns the calls not yet taken.
    pub fn take(&self) -> Vec<Call> {
        self.state.calls.take()
    }

    /// Waits for a message (posted, ephemeral or through a response URL) containing `needle`.
    pub async fn until_said(&self, needle: &str) -> Vec<Call> {
        self.until(&format!("a message containing `{needle}`"), |c| c.is_message() && c.text().contains(needle)).await
    }

    /// Takes every call so far.
    pub fn skip_all(&self) {
        self.state.calls.skip_all();
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(str::to_string)
}

fn reply(body: Value) -> Response {
    (StatusCode::OK, axum::Json(body)).into_response()
}

async fn api(
    State(state): State<Arc<Shared>>,
    Path(method): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    request: Request,
) -> Response {
    let token = bearer(request.headers());
    let bytes = axum::body::to_bytes(request.into_body(), 1 << 20).await.unwrap();
    let mut params = serde_json::from_slice::<Value>(&bytes).unwrap_or_else(|_| json!({}));
    for (k, v) in query {
        params[k] = json!(v);
    }
    let expected = if method == "apps.connections.open" { APP_TOKEN } else { BOT_TOKEN };
    if token.as_deref() != Some(expected) {
        state.record(&method, params, 400, token);
        return reply(json!({ "ok": false, "error": "invalid_auth" }));
    }
    let failure = state.failures.next(&method);
    match failure {
        Some(Failure::RetryAfter(secs)) => {
            state.record(&method, params, 429, token);
            let body = axum::Json(json!({ "ok": false, "error": "ratelimited" }));
            return (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, secs.to_string())], body).into_response();
        }
        Some(Failure::Api(code)) => {
            state.record(&method, params, 400, token);
            return reply(json!({ "ok": false, "error": code }));
        }
        None => {}
    }
    let answer = answer(&state, &method, &params);
    let status = if answer["ok"] == true { 200 } else { 400 };
    state.record_answer(&method, params, status, token, answer.clone());
    reply(answer)
}

fn answer(state: &Shared, method: &str, params: &Value) -> Value {
    let n = state.next();
    let ts = format!("1700000000.{n:06}");
    let base = state.url.lock().unwrap().clone();
    match method {
        "auth.test" => json!({ "ok": true, "url": "https://fake.slack.com/", "team": "Fake", "user": "palisade",
            "team_id": TEAM, "user_id": BOT_USER, "bot_id": "B0BOT" }),
        "apps.connections.open" => json!({ "ok": true, "url": format!("{}/socket", base.replace("http://", "ws://")) }),
        "chat.postMessage" => json!({ "ok": true, "channel": params["channel"], "ts": ts,
            "message": { "type": "message", "ts": ts, "text": params["text"], "user": BOT_USER, "bot_id": "B0BOT" } }),
        "chat.postEphemeral" => json!({ "ok": true, "message_ts": ts }),
        "chat.delete" => json!({ "ok": true, "channel": params["channel"], "ts": params["ts"] }),
        // As Slack documents the answer: the updated message comes back.
        "chat.update" => json!({ "ok": true, "channel": params["channel"], "ts": params["ts"], "text": params["text"],
            "message": { "type": "message", "ts": params["ts"], "text": params["text"], "user": BOT_USER } }),
        "files.delete" => json!({ "ok": true }),
        "views.open" => {
            let mut view = params["view"].clone();
            view["id"] = json!(format!("V{n}"));
            view["team_id"] = json!(TEAM);
            view["hash"] = json!(format!("h{n}"));
            view["state"] = json!({ "values": {} });
            json!({ "ok": true, "view": view })
        }
        "conversations.open" => {
            let user = params["users"].as_str().or(params["users"][0].as_str()).unwrap_or("U");
            json!({ "ok": true, "channel": { "id": format!("D{user}") } })
        }
        "files.getUploadURLExternal" => {
            json!({ "ok": true, "upload_url": format!("{base}/upload/F{n}"), "file_id": format!("F{n}") })
        }
        "files.completeUploadExternal" => json!({ "ok": true, "files": params["files"] }),
        // The shape of Slack's documented example answer, pointing at this fake.
        "files.info" => match state.files.lock().unwrap().get(params["file"].as_str().unwrap_or_default()) {
            Some((name, bytes, host)) => {
                let id = params["file"].as_str().unwrap();
                json!({ "ok": true, "file": { "id": id, "created": 1_531_763_342, "timestamp": 1_531_763_342,
                    "name": name, "title": name, "mimetype": "text/plain", "filetype": "text", "pretty_type": "Plain Text",
                    "user": "U061F7AUR", "editable": false, "size": bytes.len(), "mode": "hosted", "is_external": false,
                    "external_type": "", "is_public": false, "public_url_shared": false, "display_as_bot": false,
                    "username": "",
                    "url_private": format!("{host}/files-pri/{TEAM}-{id}/{name}"),
                    "url_private_download": format!("{host}/files-pri/{TEAM}-{id}/download/{name}"),
                    "permalink": format!("https://fake.slack.com/files/U061F7AUR/{id}/{name}") } })
            }
            None => json!({ "ok": false, "error": "file_not_found" }),
        },
        _ => json!({ "ok": false, "error": "unknown_method" }),
    }
}

async fn upload(State(state): State<Arc<Shared>>, Path(file): Path<String>, request: Request) -> Response {
    let token = bearer(request.headers());
    let bytes = axum::body::to_bytes(request.into_body(), 1 << 22).await.unwrap();
    let params = json!({ "file": file, "len": bytes.len(), "png": bytes.starts_with(b"\x89PNG") });
    state.record("upload", params, 200, token);
    (StatusCode::OK, format!("OK - {}", bytes.len())).into_response()
}

/// A private file download: only with the bot token.
async fn download(
    State(state): State<Arc<Shared>>,
    Path((file, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let token = bearer(&headers);
    let id = file.rsplit('-').next().unwrap_or_default().to_string();
    let found = state.files.lock().unwrap().get(&id).filter(|(n, ..)| *n == name).map(|(_, bytes, _)| bytes.clone());
    let status = match (&found, token.as_deref() == Some(BOT_TOKEN)) {
        (_, false) => StatusCode::FORBIDDEN,
        (None, true) => StatusCode::NOT_FOUND,
        (Some(_), true) => StatusCode::OK,
    };
    state.record("download", json!({ "file": id }), status.as_u16(), token);
    match found.filter(|_| status == StatusCode::OK) {
        Some(bytes) => (status, bytes).into_response(),
        None => status.into_response(),
    }
}

async fn response(State(state): State<Arc<Shared>>, Path(id): Path<String>, request: Request) -> Response {
    let token = bearer(request.headers());
    let bytes = axum::body::to_bytes(request.into_body(), 1 << 20).await.unwrap();
    let mut params = serde_json::from_slice::<Value>(&bytes).unwrap_or_else(|_| json!({}));
    params["response_url"] = json!(id);
    state.record("response", params, 200, token);
    (StatusCode::OK, "ok").into_response()
}

async fn socket(State(state): State<Arc<Shared>>, ws: WebSocketUpgrade) -> Response {
    if state.refuse.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
        return (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response();
    }
    ws.on_upgrade(move |socket| serve_socket(state, socket))
}

/// One Socket Mode connection: `hello`, then queued envelopes out and acknowledgements in. Envelopes sent
/// but not acknowledged when the connection ends are queued again, as Slack redelivers them.
async fn serve_socket(state: Arc<Shared>, mut socket: WebSocket) {
    state.connections.fetch_add(1, Ordering::SeqCst);
    let mut unacked: Vec<(String, String)> = Vec::new();
    exchange(&state, &mut socket, &mut unacked).await;
    let mut queue = state.envelopes.lock().unwrap();
    for (_, frame) in unacked.into_iter().rev() {
        queue.push_front(frame);
    }
    drop(queue);
    state.bump();
}

async fn exchange(state: &Shared, socket: &mut WebSocket, unacked: &mut Vec<(String, String)>) {
    let hello = json!({ "type": "hello", "num_connections": 1, "connection_info": { "app_id": "A0FAKE" },
        "debug_info": { "host": "fake", "approximate_connection_time": 3600 } });
    if socket.send(Message::Text(hello.to_string().into())).await.is_err() {
        return;
    }
    let mut changed = state.calls.subscribe();
    loop {
        let next = state.envelopes.lock().unwrap().pop_front();
        if let Some(frame) = next {
            let id: Value = serde_json::from_str(&frame).unwrap();
            if let Some(id) = id["envelope_id"].as_str() {
                unacked.push((id.to_string(), frame.clone()));
            }
            if socket.send(Message::Text(frame.into())).await.is_err() {
                return;
            }
            continue;
        }
        tokio::select! {
            _ = changed.changed() => {}
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let ack: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
                    unacked.retain(|(id, _)| ack["envelope_id"] != id.as_str());
                    state.acks.lock().unwrap().push(ack);
                    state.bump();
                }
                Some(Ok(_)) => {}
                _ => return,
            },
        }
    }
}
