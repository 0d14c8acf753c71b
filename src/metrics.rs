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
//! | `palisade_reply_seconds` | histogram | `platform` — from an event's arrival to its first reply sent |
//! | `palisade_queue_depth` | gauge | `stage`: `intake`, `waiting`, `running`, `outbox` |
//! | `palisade_store_op_seconds` | histogram | `op`: `get`, `put`, `create`, `delete`, `list` |
//! | `palisade_send_throttled_total` | counter | `platform` — the platform answered 429 |
//! | `palisade_adapter_up` | gauge | `platform` — 1 while connected, listening or standing by |
//! | `palisade_audit_intact` | gauge | — 1 when the last verification found the chain intact |
//! | `palisade_audit_verified_seq` | gauge | — the last entry the last verification covered |
//! | `palisade_audit_verified_timestamp_seconds` | gauge | — when it ran |
//! | `palisade_rights_requests_open` | gauge | — |
//! | `palisade_rights_requests_overdue` | gauge | — |
//! | `palisade_config_reloads_total` | counter | `outcome`: `applied`, `refused` |
//! | `palisade_control_refused_total` | counter | — control-socket peers of another user |
//! | `palisade_start_time_seconds` | gauge | — |
//! | `palisade_build_info` | gauge | `version` |
//!
//! Every metric exists from the start (counters at zero), so dashboards and alert rules never see gaps.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::event::Platform;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Latency buckets for whole operations (handlers, replies), in seconds.
const SLOW: [f64; 12] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0];
/// Latency buckets for store operations, in seconds.
const FAST: [f64; 10] = [0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.001, 0.005, 0.025, 0.1];
/// Platforms every per-platform metric starts with.
const PLATFORMS: [Platform; 4] = [Platform::TELEGRAM, Platform::DISCORD, Platform::SLACK, Platform::CONSOLE];

/// Installs the Prometheus recorder once per process and returns its handle (for `/metrics`).
pub fn install() -> Result<PrometheusHandle, String> {
    if let Some(h) = HANDLE.get() {
        return Ok(h.clone());
    }
    use metrics_exporter_prometheus::Matcher;
    let mut builder = PrometheusBuilder::new();
    for (name, buckets) in [
        ("palisade_handler_seconds", &SLOW[..]),
        ("palisade_reply_seconds", &SLOW[..]),
        ("palisade_send_paced_seconds", &SLOW[..]),
        ("palisade_store_op_seconds", &FAST[..]),
    ] {
        builder = builder.set_buckets_for_metric(Matcher::Full(name.into()), buckets).map_err(|e| e.to_string())?;
    }
    let recorder = builder.build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|e| format!("a metrics recorder is already installed: {e}"))?;
    let _ = HANDLE.set(handle.clone());
    start();
    Ok(handle)
}

/// Creates every series at zero, and the start time and build info.
fn start() {
    for p in PLATFORMS.map(Platform::as_str) {
        for name in [
            "palisade_events_in_total",
            "palisade_replies_out_total",
            "palisade_delivery_failures_total",
            "palisade_webhook_rejected_total",
            "palisade_send_throttled_total",
        ] {
            metrics::counter!(name, "platform" => p).absolute(0);
        }
    }
    for kind in ["panic", "timeout", "store", "plugin"] {
        metrics::counter!("palisade_errors_total", "kind" => kind).absolute(0);
    }
    for outcome in ["accepted", "wrong", "locked", "replay refused"] {
        metrics::counter!("palisade_stepup_total", "outcome" => outcome).absolute(0);
    }
    for scope in ["user", "conversation", "global"] {
        metrics::counter!("palisade_ratelimit_hits_total", "scope" => scope).absolute(0);
    }
    for reason in ["ratelimit", "conversation_queue_full"] {
        metrics::counter!("palisade_events_dropped_total", "reason" => reason).absolute(0);
    }
    for kind in crate::alerts::KINDS {
        metrics::counter!("palisade_alerts_total", "kind" => kind).absolute(0);
    }
    for outcome in ["applied", "refused"] {
        metrics::counter!("palisade_config_reloads_total", "outcome" => outcome).absolute(0);
    }
    for stage in ["intake", "waiting", "running", "outbox"] {
        metrics::gauge!("palisade_queue_depth", "stage" => stage).set(0.0);
    }
    metrics::counter!("palisade_events_duplicate_total").absolute(0);
    metrics::counter!("palisade_journal_recovered_total").absolute(0);
    metrics::counter!("palisade_control_refused_total").absolute(0);
    metrics::gauge!("palisade_store_bytes").set(0.0);
    metrics::gauge!("palisade_rights_requests_open").set(0.0);
    metrics::gauge!("palisade_rights_requests_overdue").set(0.0);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    metrics::gauge!("palisade_start_time_seconds").set(now.as_secs_f64());
    metrics::gauge!("palisade_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    let _ = STORE_HISTOGRAMS.set(STORE_OPS.map(|op| metrics::histogram!("palisade_store_op_seconds", "op" => op)));
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

/// An event from `platform` got its first reply `seconds` after it arrived.
pub fn replied(platform: Platform, seconds: f64) {
    metrics::histogram!("palisade_reply_seconds", "platform" => platform.as_str()).record(seconds);
}

/// How many items wait at `stage` (`intake`, `waiting`, `running`, `outbox`).
pub fn queue_depth(stage: &'static str, depth: usize) {
    metrics::gauge!("palisade_queue_depth", "stage" => stage).set(depth as f64);
}

/// The store operations timed, in the order of [`STORE_HISTOGRAMS`].
const STORE_OPS: [&str; 5] = ["get", "put", "create", "delete", "list"];
/// Their histograms, registered once when the recorder is installed: a store operation records into its
/// handle without looking the series up (no recorder: nothing is timed at all).
static STORE_HISTOGRAMS: OnceLock<[metrics::Histogram; 5]> = OnceLock::new();

/// Times one store operation (`get`, `put`, `delete`, `list`) until dropped.
#[must_use = "the operation is timed until this is dropped"]
pub struct StoreTimer(Option<(&'static metrics::Histogram, std::time::Instant)>);

impl StoreTimer {
    /// Starts timing `op`.
    pub fn start(op: &'static str) -> Self {
        let histogram = STORE_HISTOGRAMS.get().and_then(|h| STORE_OPS.iter().position(|o| *o == op).map(|i| &h[i]));
        Self(histogram.map(|h| (h, std::time::Instant::now())))
    }
}

impl Drop for StoreTimer {
    fn drop(&mut self) {
        if let Some((histogram, started)) = self.0 {
            histogram.record(started.elapsed().as_secs_f64());
        }
    }
}

/// Whether `platform`'s adapter is connected (or listening).
pub fn adapter_up(platform: Platform, up: bool) {
    metrics::gauge!("palisade_adapter_up", "platform" => platform.as_str()).set(if up { 1.0 } else { 0.0 });
}

/// The running bot verified its audit chain up to `seq` at `at_ms`; `intact` says how that went.
pub fn audit_checked(seq: u64, at_ms: u64, intact: bool) {
    metrics::gauge!("palisade_audit_intact").set(if intact { 1.0 } else { 0.0 });
    metrics::gauge!("palisade_audit_verified_seq").set(seq as f64);
    metrics::gauge!("palisade_audit_verified_timestamp_seconds").set(at_ms as f64 / 1000.0);
}

/// Rights requests not yet completed, and those past their deadline.
pub fn rights_requests(open: usize, overdue: usize) {
    metrics::gauge!("palisade_rights_requests_open").set(open as f64);
    metrics::gauge!("palisade_rights_requests_overdue").set(overdue as f64);
}

/// A configuration reload was `applied` or `refused`.
pub fn reloaded(outcome: &'static str) {
    metrics::counter!("palisade_config_reloads_total", "outcome" => outcome).increment(1);
}

/// A control-socket peer of another user was turned away.
pub fn control_refused() {
    metrics::counter!("palisade_control_refused_total").increment(1);
}
