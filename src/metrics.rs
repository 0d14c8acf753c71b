//! Metrics, through the `metrics` facade with a Prometheus recorder. Names and labels never carry personal
//! data: platforms, outcomes and kinds only.
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `palisade_events_in_total` | counter | `platform` |
//! | `palisade_replies_out_total` | counter | `platform` |
//! | `palisade_delivery_failures_total` | counter | `platform` |
//! | `palisade_handler_seconds` | histogram | — |
//! | `palisade_errors_total` | counter | `kind` |
//! | `palisade_stepup_total` | counter | `outcome` |
//! | `palisade_ratelimit_hits_total` | counter | `scope` |
//! | `palisade_webhook_rejected_total` | counter | `platform` |
//! | `palisade_alerts_total` | counter | `kind` |
//! | `palisade_store_bytes` | gauge | — |
//! | `palisade_send_paced_seconds` | histogram | `platform` |
//! | `palisade_events_dropped_total` | counter | `reason` |
//! | `palisade_events_duplicate_total` | counter | — |
//! | `palisade_journal_recovered_total` | counter | — |

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::event::Platform;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder once per process and returns its handle (for `/metrics`).
pub fn install() -> Result<PrometheusHandle, String> {
    if let Some(h) = HANDLE.get() {
        return Ok(h.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full("palisade_handler_seconds".into()),
            &[0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0],
        )
        .map_err(|e| e.to_string())?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|e| format!("a metrics recorder is already installed: {e}"))?;
    let _ = HANDLE.set(handle.clone());
    Ok(handle)
}

/// An event came in.
pub fn event_in(platform: Platform) {
    metrics::counter!("palisade_events_in_total", "platform" => platform.as_str()).increment(1);
}

/// A reply was delivered, or failed to be.
pub fn reply_out(platform: Platform, ok: bool) {
    if ok {
        metrics::counter!("palisade_replies_out_total", "platform" => platform.as_str()).increment(1);
    } else {
        metrics::counter!("palisade_delivery_failures_total", "platform" => platform.as_str()).increment(1);
    }
}

/// A handler took `seconds`.
pub fn handled(seconds: f64) {
    metrics::histogram!("palisade_handler_seconds").record(seconds);
}

/// Handling failed (`panic`, `timeout`, `plugin`, `store`).
pub fn error(kind: &'static str) {
    metrics::counter!("palisade_errors_total", "kind" => kind).increment(1);
}

/// A verification attempt ended with `outcome`.
pub fn stepup(outcome: &'static str) {
    metrics::counter!("palisade_stepup_total", "outcome" => outcome).increment(1);
}

/// A rate limit refused an event (`user`, `conversation`, `global`).
pub fn rate_limited(scope: &'static str) {
    metrics::counter!("palisade_ratelimit_hits_total", "scope" => scope).increment(1);
}

/// A webhook request failed authentication.
pub fn webhook_rejected(platform: Platform) {
    metrics::counter!("palisade_webhook_rejected_total", "platform" => platform.as_str()).increment(1);
}

/// An alert was raised.
pub fn alert(kind: &'static str) {
    metrics::counter!("palisade_alerts_total", "kind" => kind).increment(1);
}

/// A send waited `wait` for its platform's limits.
pub fn send_paced(platform: Platform, wait: std::time::Duration) {
    metrics::histogram!("palisade_send_paced_seconds", "platform" => platform.as_str()).record(wait.as_secs_f64());
}

/// An accepted event was dropped (`conversation_queue_full`, `ratelimit`).
pub fn dropped(reason: &'static str) {
    metrics::counter!("palisade_events_dropped_total", "reason" => reason).increment(1);
}

/// A delivery seen before was dropped.
pub fn duplicate() {
    metrics::counter!("palisade_events_duplicate_total").increment(1);
}

/// Journal entries from an earlier run were taken up again.
pub fn recovered(n: u64) {
    metrics::counter!("palisade_journal_recovered_total").increment(n);
}

/// The data directory's size.
pub fn store_bytes(bytes: u64) {
    metrics::gauge!("palisade_store_bytes").set(bytes as f64);
}
