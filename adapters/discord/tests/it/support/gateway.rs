//! A fake Discord gateway on ws://127.0.0.1:0: HELLO, then READY after IDENTIFY (which it records),
//! heartbeat ACKs, and dispatch events pushed by the test (to the first connection). Several connections
//! may come (shards); each one's shard and whether it is still open are recorded.

use std::sync::{Arc, Mutex};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::APP;

/// The running fake gateway.
pub struct FakeGateway {
    pub url: String,
    events: mpsc::UnboundedSender<(String, Value)>,
    identify: Arc<Mutex<Option<Value>>>,
    /// Every IDENTIFY's `shard` ([id, total]) with whether its connection is still open, in arrival order.
    sessions: Arc<Mutex<Vec<(Value, bool)>>>,
}

impl FakeGateway {
    pub async fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("ws://{}", listener.local_addr().unwrap());
        let (events, rx) = mpsc::unbounded_channel();
        let identify = Arc::new(Mutex::new(None));
        let seen = identify.clone();
        let sessions = Arc::new(Mutex::new(Vec::new()));
        let open = sessions.clone();
        let resume = url.clone();
        // On its own thread with logging off: the fake's websocket library logs the IDENTIFY it receives,
        // token included, and that is the fake's doing, not the bot's.
        std::thread::spawn(move || {
            let _quiet = tracing::subscriber::set_default(tracing::subscriber::NoSubscriber::default());
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let mut rx = Some(rx);
                // The later connections get no events; their channels stay open while the fake runs.
                let mut quiet = Vec::new();
                loop {
                    let Ok((tcp, _)) = listener.accept().await else { return };
                    let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else { continue };
                    let events = rx.take().unwrap_or_else(|| {
                        let (tx, rx) = mpsc::unbounded_channel();
                        quiet.push(tx);
                        rx
                    });
                    tokio::spawn(serve(ws, events, seen.clone(), open.clone(), resume.clone()));
                }
            });
        });
        Self { url, events, identify, sessions }
    }

    /// The shards identified so far (`[id, total]`), each with whether its connection is still open.
    pub fn sessions(&self) -> Vec<(Value, bool)> {
        self.sessions.lock().unwrap().clone()
    }

    /// Sends dispatch event `name` with data `d`.
    pub fn dispatch(&self, name: &str, d: Value) {
        self.events.send((name.to_string(), d)).unwrap();
    }

    /// The IDENTIFY payload, once received.
    pub async fn identified(&self) -> Value {
        for _ in 0..200 {
            if let Some(v) = self.identify.lock().unwrap().clone() {
                return v;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the bot never identified");
    }
}

async fn serve(
    ws: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    mut events: mpsc::UnboundedReceiver<(String, Value)>,
    identify: Arc<Mutex<Option<Value>>>,
    sessions: Arc<Mutex<Vec<(Value, bool)>>>,
    resume: String,
) {
    let mut session = None;
    serve_one(ws, &mut events, &identify, &sessions, &mut session, resume).await;
    if let Some(n) = session {
        sessions.lock().unwrap()[n].1 = false;
    }
}

async fn serve_one(
    ws: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    events: &mut mpsc::UnboundedReceiver<(String, Value)>,
    identify: &Mutex<Option<Value>>,
    sessions: &Mutex<Vec<(Value, bool)>>,
    session: &mut Option<usize>,
    resume: String,
) {
    let (mut tx, mut rx) = ws.split();
    let hello = json!({ "op": 10, "d": { "heartbeat_interval": 41250 } });
    tx.send(Message::Text(hello.to_string())).await.unwrap();
    let mut seq = 0u64;
    loop {
        tokio::select! {
            incoming = rx.next() => {
                let Some(Ok(Message::Text(text))) = incoming else { return };
                let msg: Value = serde_json::from_str(&text).unwrap();
                match msg["op"].as_u64() {
                    Some(1) if tx.send(Message::Text(json!({ "op": 11 }).to_string())).await.is_err() => return,
                    Some(1) => {}
                    Some(2) => {
                        identify.lock().unwrap().get_or_insert_with(|| msg["d"].clone());
                        let shard = msg["d"]["shard"].clone();
                        {
                            let mut all = sessions.lock().unwrap();
                            *session = Some(all.len());
                            all.push((shard.clone(), true));
                        }
                        seq += 1;
                        let ready = json!({ "op": 0, "s": seq, "t": "READY", "d": {
                            "v": 10, "guilds": [], "session_id": "session", "resume_gateway_url": resume,
                            "shard": shard, "application": { "id": APP, "flags": 0 },
                            "user": { "id": "4242", "username": "palisade", "discriminator": "0000",
                                      "avatar": null, "bot": true } } });
                        if tx.send(Message::Text(ready.to_string())).await.is_err() {
                            return;
                        }
                    }
                    _ => {}
                }
            }
            event = events.recv() => {
                let Some((name, d)) = event else { return };
                seq += 1;
                let msg = json!({ "op": 0, "s": seq, "t": name, "d": d });
                if tx.send(Message::Text(msg.to_string())).await.is_err() {
                    return;
                }
            }
        }
    }
}
