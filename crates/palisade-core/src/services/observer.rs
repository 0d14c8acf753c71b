//! Security signals adapters report, counted by the runtime for metrics, audit summaries and alerts.

use crate::event::Platform;

/// Receives security signals from adapters.
pub trait Observer: Send + Sync + 'static {
    /// A request on `platform` failed authentication (bad signature, wrong secret, stale or replayed).
    /// `reason` is a fixed label, never the request's content. Must be cheap: attackers control the rate.
    fn rejected(&self, platform: Platform, reason: &str);
}
