//! Requests to the events listener, signed by an independent implementation: Python's `hmac` module.

use std::io::Write;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{Method, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::SIGNING_SECRET;

/// `v0=` hex(HMAC-SHA256(secret, "v0:" + timestamp + ":" + body)), computed by Python's `hmac` module.
pub fn python_sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let script = "import hmac, hashlib, sys; \
                  msg = b'v0:' + sys.argv[2].encode() + b':' + sys.stdin.buffer.read(); \
                  print('v0=' + hmac.new(sys.argv[1].encode(), msg, hashlib.sha256).hexdigest(), end='')";
    let mut child = std::process::Command::new("python3")
        .args(["-c", script, secret, timestamp])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 is needed to sign test requests independently");
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

pub fn now() -> i64 {
    i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

/// A request to the events listener.
pub struct Post<'a> {
    pub body: &'a [u8],
    pub content_type: &'a str,
    /// `(timestamp, signature)` headers; `None` leaves both out.
    pub signed: Option<(String, String)>,
    pub retry: Option<u32>,
}

impl<'a> Post<'a> {
    /// `body` signed now, by Python, with the test signing secret.
    pub fn signed(body: &'a [u8], content_type: &'a str) -> Self {
        let ts = now().to_string();
        let sig = python_sign(SIGNING_SECRET, &ts, body);
        Self { body, content_type, signed: Some((ts, sig)), retry: None }
    }

    pub fn json(body: &'a [u8]) -> Self {
        Self::signed(body, "application/json")
    }

    pub fn form(body: &'a [u8]) -> Self {
        Self::signed(body, "application/x-www-form-urlencoded")
    }
}

/// Posts to the events listener at `addr` + `/slack/events`; returns the status and body.
pub async fn post(addr: SocketAddr, p: Post<'_>) -> (StatusCode, String) {
    let client: Client<_, Body> = Client::builder(TokioExecutor::new()).build_http();
    let mut req = axum::http::Request::builder()
        .method(Method::POST)
        .uri(format!("http://{addr}/slack/events"))
        .header("content-type", p.content_type);
    if let Some((ts, sig)) = p.signed {
        req = req.header("x-slack-request-timestamp", ts).header("x-slack-signature", sig);
    }
    if let Some(n) = p.retry {
        req = req.header("x-slack-retry-num", n.to_string()).header("x-slack-retry-reason", "http_timeout");
    }
    let res = client.request(req.body(Body::from(p.body.to_vec())).unwrap()).await.unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(Body::new(res.into_body()), 1 << 20).await.unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}
