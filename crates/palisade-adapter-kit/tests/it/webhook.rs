//! The bounded listener on real sockets: refusals cost no body read, sizes and times are bounded, and a
//! refusal is reported to the sink's observer.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use palisade_adapter_kit::webhook::{self, Endpoint, Limits, Listen};
use palisade_core::{EventSink, Observer, Platform};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

#[derive(Default)]
struct Rejections(Mutex<Vec<String>>);

impl Observer for Rejections {
    fn rejected(&self, _platform: Platform, reason: &str) {
        self.0.lock().unwrap().push(reason.to_string());
    }
}

/// Accepts requests whose `x-key` header is `open`, and echoes the body's length.
struct Keyed;

#[async_trait::async_trait]
impl Endpoint for Keyed {
    fn check_headers(&self, headers: &HeaderMap) -> Result<(), &'static str> {
        match headers.get("x-key").map(|v| v.as_bytes()) {
            None => Err("missing key"),
            Some(b"open") => Ok(()),
            Some(_) => Err("wrong key"),
        }
    }

    async fn handle(&self, _headers: HeaderMap, body: Bytes) -> Response {
        (StatusCode::OK, body.len().to_string()).into_response()
    }
}

struct Running {
    addr: SocketAddr,
    rejections: Arc<Rejections>,
    stop: CancellationToken,
    server: tokio::task::JoinHandle<()>,
}

async fn start(limits: Limits) -> Running {
    let rejections = Arc::new(Rejections::default());
    let (tx, _rx) = mpsc::channel(1);
    let sink = EventSink::new(tx, Some(rejections.clone() as Arc<dyn Observer>));
    let stop = CancellationToken::new();
    let (listening, mut bound) = watch::channel(None);
    let listen =
        Listen { platform: Platform::TELEGRAM, addr: "127.0.0.1:0".parse().unwrap(), path: "/hook".into(), limits };
    let server = tokio::spawn({
        let stop = stop.clone();
        async move { webhook::serve(listen, Arc::new(Keyed), sink, stop, listening).await.unwrap() }
    });
    let addr = loop {
        if let Some(addr) = *bound.borrow_and_update() {
            break addr;
        }
        bound.changed().await.unwrap();
    };
    Running { addr, rejections, stop, server }
}

async fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn refusals_are_401_reported_and_never_read_the_body() {
    let r = start(Limits::default()).await;
    // A body is declared but never sent: a refusal that waited for it would hang until the body timeout.
    let started = Instant::now();
    let answer =
        raw(r.addr, b"POST /hook HTTP/1.1\r\nhost: x\r\ncontent-length: 100000\r\nconnection: close\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(2), "answered without reading the body");
    let answer =
        raw(r.addr, b"POST /hook HTTP/1.1\r\nhost: x\r\nx-key: nope\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert_eq!(*r.rejections.0.lock().unwrap(), ["missing key", "wrong key"]);
    let answer = raw(
        r.addr,
        b"POST /hook HTTP/1.1\r\nhost: x\r\nx-key: open\r\ncontent-length: 3\r\nconnection: close\r\n\r\nabc",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with('3'), "{answer}");
    r.stop.cancel();
    r.server.await.unwrap();
}

#[tokio::test]
async fn bodies_over_the_cap_are_refused_declared_or_not() {
    let r = start(Limits { max_body: 10, ..Limits::default() }).await;
    let declared = raw(
        r.addr,
        b"POST /hook HTTP/1.1\r\nhost: x\r\nx-key: open\r\ncontent-length: 11\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(declared.starts_with("HTTP/1.1 413"), "{declared}");
    let chunked = raw(
        r.addr,
        b"POST /hook HTTP/1.1\r\nhost: x\r\nx-key: open\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\nb\r\n01234567890\r\n0\r\n\r\n",
    )
    .await;
    assert!(chunked.starts_with("HTTP/1.1 413"), "{chunked}");
    assert!(r.rejections.0.lock().unwrap().is_empty(), "an authenticated oversized body is not a forgery");
}

#[tokio::test]
async fn slow_headers_and_slow_bodies_are_cut_off() {
    let limits = Limits {
        header_timeout: Duration::from_millis(300),
        body_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let r = start(limits).await;
    let started = Instant::now();
    let mut stream = tokio::net::TcpStream::connect(r.addr).await.unwrap();
    stream.write_all(b"POST /hook HTTP/1.1\r\nhost: x\r\n").await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await;
    assert!(started.elapsed() < Duration::from_secs(3), "a connection that never finishes its headers is closed");
    let started = Instant::now();
    let answer = raw(
        r.addr,
        b"POST /hook HTTP/1.1\r\nhost: x\r\nx-key: open\r\ncontent-length: 5\r\nconnection: close\r\n\r\nab",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_for_a_free_slot() {
    let limits = Limits { max_connections: 1, header_timeout: Duration::from_secs(1), ..Limits::default() };
    let r = start(limits).await;
    // The first connection holds the only slot, sending nothing, until its header timeout closes it.
    let _idle = tokio::net::TcpStream::connect(r.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let answer =
        raw(r.addr, b"POST /hook HTTP/1.1\r\nhost: x\r\nx-key: open\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(started.elapsed() >= Duration::from_millis(500), "served only after the idle one was closed");
}
