//! Wall-clock time as the framework sees it.
//!
//! Persisted timestamps (flow idle timeouts, record ages) and TOTP codes are wall-clock milliseconds. A
//! running bot uses [`SystemClock`], which reads the system clock every time: after an NTP step or a host
//! suspend, codes and timeouts follow the corrected time at once. Tests must be able to move time without
//! sleeping, so they use [`TokioClock`], which advances with tokio's clock: under `tokio::time::pause()` and
//! `advance()`, it moves exactly as far as tokio's does.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of wall-clock time in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + 'static {
    /// Now, in milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
}

/// Shared clock handle.
pub type SharedClock = Arc<dyn Clock>;

/// The system's wall clock, read on every call: what a running bot uses.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl SystemClock {
    /// A shared handle.
    pub fn shared() -> SharedClock {
        Arc::new(Self)
    }
}

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        system_now_ms()
    }
}

/// Wall time read once at creation, then advanced by tokio's monotonic clock: for tests (it does not follow
/// changes of the system clock).
#[derive(Debug)]
pub struct TokioClock {
    base_ms: u64,
    base: tokio::time::Instant,
}

impl TokioClock {
    /// Starts at the system's current time.
    pub fn new() -> Self {
        Self::starting_at(system_now_ms())
    }

    /// Starts at `base_ms` (useful to replay a scenario at a fixed date).
    pub fn starting_at(base_ms: u64) -> Self {
        Self { base_ms, base: tokio::time::Instant::now() }
    }

    /// A shared handle to a new clock at the system's current time.
    pub fn shared() -> SharedClock {
        Arc::new(Self::new())
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    fn now_ms(&self) -> u64 {
        let elapsed = tokio::time::Instant::now().saturating_duration_since(self.base);
        self.base_ms.saturating_add(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
    }
}

/// Milliseconds in a duration, saturating.
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn system_now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_is_read_every_time() {
        let before = system_now_ms();
        let now = SystemClock.now_ms();
        assert!(now >= before && now - before < 1_000);
    }

    #[tokio::test(start_paused = true)]
    async fn follows_tokio_time() {
        let clock = TokioClock::starting_at(1_000);
        assert_eq!(clock.now_ms(), 1_000);
        tokio::time::advance(Duration::from_secs(90)).await;
        assert_eq!(clock.now_ms(), 91_000);
    }
}
