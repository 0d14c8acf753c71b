//! Metrics over HTTP, health endpoints, and alerts reaching the admin chat exactly once.

use std::time::Duration;

use crate::support::probe::Probe;
use crate::support::{Harness, memory_store, text_of};
use palisade::config::{AlertSettings, Settings};
use palisade::health::Readiness;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let status = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, out.split("\r\n\r\n").nth(1).unwrap_or("").to_string())
}

fn counter(body: &str, name_and_labels: &str) -> f64 {
    body.lines()
        .find(|l| l.starts_with(name_and_labels))
        .and_then(|l| l.rsplit(' ').next())
        .map_or(0.0, |v| v.parse().unwrap())
}

#[tokio::test]
async fn metrics_health_and_readiness_over_http_and_an_alert_for_a_brute_force() {
    let handle = palisade::metrics::install().unwrap();
    let ready = Readiness::default();
    let stop = CancellationToken::new();
    let (addr, server) =
        palisade::health::serve("127.0.0.1:0".parse().unwrap(), handle, ready.clone(), stop.clone()).await.unwrap();
    let server = tokio::spawn(server);

    assert_eq!(get(addr, "/healthz").await, (200, "ok".into()));
    assert_eq!(get(addr, "/readyz").await.0, 503);
    ready.set(true);
    assert_eq!(get(addr, "/readyz").await.0, 200);

    // A bot with step-up and alerts, the admin reading on the same (loopback) platform.
    let alerts = AlertSettings { admin_chats: vec!["console:the-admin".into()], ..AlertSettings::default() };
    let h = Harness::bot(vec![Probe::shared()], memory_store().await, Settings { alerts, ..Settings::default() }).await;
    let audit = h.services().audit.clone();
    let before = get(addr, "/metrics").await.1;
    let say = |text: &str| h.sink.submit_and_wait(crate::support::event("mallory", text));
    let secret = h.enrol("mallory").await.secret;
    say("/secret").await.unwrap();
    h.captured.take();
    // A brute force: twelve wrong codes. Five failures cross the per-user threshold; the rest are in cooldown.
    let valid: Vec<String> = (-1..=1).map(|i| h.code(&secret, i)).collect();
    let wrong = (0..1_000_000).map(|n| format!("{n:06}")).find(|c| !valid.contains(c)).unwrap();
    for _ in 0..12 {
        say(&wrong).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(50)).await; // let the alert task deliver
    let to_admin: Vec<_> = h.captured.take().into_iter().filter(|r| r.chat.id == "the-admin").collect();
    assert_eq!(to_admin.len(), 1, "exactly one alert: {to_admin:?}");
    let text = text_of(&to_admin[0]);
    assert!(text.starts_with("Security alert: 5 × stepup_failures_per_user by user "), "{text}");
    assert!(!text.contains("mallory"), "the user appears as a pseudonym only: {text}");
    assert!(to_admin[0].private);

    let after = get(addr, "/metrics").await.1;
    let moved = |name: &str| counter(&after, name) > counter(&before, name);
    assert!(moved("palisade_events_in_total{platform=\"console\"}"), "{after}");
    assert!(moved("palisade_stepup_total{outcome=\"wrong\"}"), "{after}");
    assert!(moved("palisade_alerts_total{kind=\"stepup_failures_per_user\"}"), "{after}");
    assert!(after.contains("palisade_handler_seconds_bucket"), "{after}");
    assert!(audit.entries_since(0).await.unwrap().iter().any(|e| e.event == "alert.raised"));

    h.stop().await;
    stop.cancel();
    server.await.unwrap();
}

/// A flood of forged requests costs counters, not disk: one audit entry (and one log line) per platform and
/// reason per minute, with the count.
#[tokio::test(start_paused = true)]
async fn rejected_requests_are_summarised_not_written_one_by_one() {
    use palisade::services::Observer;
    let h = Harness::bot(vec![Probe::shared()], memory_store().await, Settings::default()).await;
    let alerts = h.services().alerts.clone();
    for _ in 0..1000 {
        alerts.rejected(palisade::Platform::SLACK, "bad X-Slack-Signature");
    }
    alerts.rejected(palisade::Platform::DISCORD, "stale timestamp");
    let audit = h.services().audit.clone();
    let written = |audit: &std::sync::Arc<palisade::audit::Audit>| {
        let audit = audit.clone();
        async move {
            audit
                .entries_since(0)
                .await
                .unwrap()
                .into_iter()
                .filter(|e| e.event == "webhook.rejected")
                .collect::<Vec<_>>()
        }
    };
    assert!(written(&audit).await.is_empty(), "nothing is written per request");
    tokio::time::sleep(Duration::from_secs(61)).await;
    let entries = written(&audit).await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    let slack = entries.iter().find(|e| e.details["platform"] == "slack").unwrap();
    assert_eq!((slack.details["reason"].as_str(), slack.details["count"].as_str()), ("bad X-Slack-Signature", "1000"));
    h.stop().await;
}
