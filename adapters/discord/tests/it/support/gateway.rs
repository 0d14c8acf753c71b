//! A fake Discord gateway on ws://127.0.0.1:0: HELLO, then READY after IDENTIFY (which it records),
//! heartbeat ACKs, and dispatch events pushed by the test.

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
}

impl FakeGateway {
    pub async fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("ws://{}", listener.local_addr().unwrap());
        let (events, rx) = mpsc::unbounded_channel();
        let identify = Arc::new(Mutex::new(None));
        let seen = identify.clone();
        let resume = url.clone();
        // On its own thread with logging off: the fake's websocket library logs the IDENTIFY it receives,
        // token included, and that is the fake's doing, not the bot's.
        std::thread::spawn(move || {
            let _quiet = tracing::subscriber::set_default(tracing::subscriber::NoSubscriber::default());
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let (tcp, _) = listener.accept().await.unwrap();
                let ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
                serve(ws, rx, seen, resume).await;
            });
        });
        Self { url, events, identify }
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
                    Some(1) => tx.send(Message::Text(json!({ "op": 11 }).to_string())).await.unwrap(),
                    Some(2) => {
                        *identify.lock().unwrap() = Some(msg["d"].clone());
                        seq += 1;
                        let ready = json!({ "op": 0, "s": seq, "t": "READY", "d": {
                            "v": 10, "guilds": [], "session_id": "session", "resume_gateway_url": resume,
                            "shard": [0, 1], "application": { "id": APP, "flags": 0 },
                            "user": { "id": "4242", "username": "palisade", "discriminator": "0000",
                                      "avatar": null, "bot": true } } });
                        tx.send(Message::Text(ready.to_string())).await.unwrap();
                    }
                    _ => {}
                }
            }
            event = events.recv() => {
                let Some((name, d)) = event else { return };
                seq += 1;
                let msg = json!({ "op": 0, "s": seq, "t": name, "d": d });
                tx.send(Message::Text(msg.to_string())).await.unwrap();
            }
        }
    }
}
