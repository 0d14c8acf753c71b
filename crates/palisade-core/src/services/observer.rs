//! What adapters report to the runtime besides events: security signals (counted for metrics, audit
//! summaries and alerts) and the state of their connection to the platform (shown by `palisade status` and
//! exported as metrics).

use crate::event::Platform;

/// The state of an adapter's link to its platform, as `palisade status` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Connection {
    /// Started, not yet connected.
    Starting,
    /// Connected to the platform (a gateway or Socket Mode session is up, long polling answers).
    Connected,
    /// Listening for webhook requests on this address.
    Listening(String),
    /// Ready, while another replica does the work only one may do (polls Telegram); takes over when that
    /// one stops or dies. Counts as up.
    Standby,
    /// Lost; the adapter is trying again. The reason is a fixed label or an error without content.
    Reconnecting(String),
    /// Stopped.
    Stopped,
}

impl Connection {
    /// A one-word label (`starting`, `connected`, `listening`, `standby`, `reconnecting`, `stopped`).
    pub fn label(&self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Connected => "connected",
            Self::Listening(_) => "listening",
            Self::Standby => "standby",
            Self::Reconnecting(_) => "reconnecting",
            Self::Stopped => "stopped",
        }
    }

    /// True when events can arrive.
    pub fn is_up(&self) -> bool {
        matches!(self, Self::Connected | Self::Listening(_) | Self::Standby)
    }
}

/// Receives what adapters report. Every method must be cheap: attackers control the rate of rejections.
pub trait Observer: Send + Sync + 'static {
    /// A request on `platform` failed authentication (bad signature, wrong secret, stale or replayed).
    /// `reason` is a fixed label, never the request's content.
    fn rejected(&self, platform: Platform, reason: &str);

    /// The adapter for `platform` changed its connection state.
    fn connection(&self, platform: Platform, state: Connection) {
        let _ = (platform, state);
    }
}
