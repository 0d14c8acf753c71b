//! The contract every platform adapter implements: run with an event sink until told to stop, and expose an
//! outbox that delivers replies within the platform's limits.

mod ids;
mod lead;
mod sink;

use std::sync::Arc;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

pub use ids::IdBook;
pub use lead::{Lead, Leadership};
pub use sink::{Admission, Envelope, EventSink, Numbered, Pending, SinkError};

use crate::event::{MessageId, Platform};
use crate::reply::Reply;

/// What a platform can do; the dispatcher and plugins adapt to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// Longest text message in characters; longer replies are split.
    pub max_message_len: usize,
    /// The bot may delete messages users wrote (used to remove typed codes).
    pub can_delete_user_messages: bool,
    /// Replies can be shown to one user inside a shared chat.
    pub ephemeral_replies: bool,
    /// The platform can ask for input in a private form (modal) that never enters chat history.
    pub private_input: bool,
    /// The bot can open a direct conversation with a user who wrote in a group.
    pub direct_messages: bool,
    /// Images are shown inline (otherwise they are saved and referred to, and QR codes are sent as text).
    pub images: bool,
}

impl Capabilities {
    /// The console: unlimited length, everything "private" because only one person reads the terminal.
    pub const CONSOLE: Capabilities = Capabilities {
        max_message_len: 65_536,
        can_delete_user_messages: false,
        ephemeral_replies: false,
        private_input: false,
        direct_messages: true,
        images: false,
    };
}

/// At most `count` messages per `per`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SendRate {
    /// Messages.
    pub count: u32,
    /// Per this long.
    pub per: std::time::Duration,
}

impl SendRate {
    /// `count` per `per`.
    pub const fn new(count: u32, per: std::time::Duration) -> Self {
        Self { count, per }
    }
}

/// How fast the runtime may send to a platform: its documented limits, which the runtime's send scheduler
/// keeps with exact timers (a message under its limits leaves at once). Empty lists mean no limit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SendPolicy {
    /// Limits for each chat on its own.
    pub per_chat: Vec<SendRate>,
    /// Further limits for each group or channel on its own.
    pub per_group: Vec<SendRate>,
    /// Limits over all chats together.
    pub overall: Vec<SendRate>,
}

/// Why a delivery failed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The platform refused the request; the text says why (never includes tokens or message content).
    #[error("the platform refused the request: {0}")]
    Rejected(String),
    /// The platform could not be reached after retries.
    #[error("the platform could not be reached: {0}")]
    Unreachable(String),
    /// The adapter cannot do this on its platform.
    #[error("not supported on this platform: {0}")]
    Unsupported(&'static str),
}

/// Delivers replies to one platform.
#[async_trait]
pub trait Outbox: Send + Sync + 'static {
    /// Delivers one reply (already split to fit [`Capabilities::max_message_len`]); returns the id of the
    /// message created, if any.
    async fn deliver(&self, reply: &Reply) -> Result<Option<MessageId>, SendError>;

    /// The bytes of a file a user sent (an [`crate::EventKind::File`]), at most `max_bytes`: a larger file is
    /// refused without being downloaded whole. Platforms that cannot fetch files keep the default.
    async fn fetch(&self, file: &crate::event::FileInfo, max_bytes: u64) -> Result<Vec<u8>, SendError> {
        let _ = (file, max_bytes);
        Err(SendError::Unsupported("fetching files on this platform"))
    }
}

/// Why an adapter stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    /// Could not start: bad credentials, address in use, unreachable API. The text says what to check.
    #[error("{platform} adapter could not start: {reason}")]
    Start {
        /// Which adapter.
        platform: Platform,
        /// What to check.
        reason: String,
    },
    /// Failed while running and gave up.
    #[error("{platform} adapter failed: {reason}")]
    Failed {
        /// Which adapter.
        platform: Platform,
        /// What happened.
        reason: String,
    },
}

/// A platform connection. Inbound traffic goes to the sink as [`crate::Event`]s; outbound goes through
/// [`Adapter::outbox`].
#[async_trait]
pub trait Adapter: Send + Sync + 'static {
    /// The platform served.
    fn platform(&self) -> Platform;

    /// What the platform can do.
    fn capabilities(&self) -> Capabilities;

    /// The outbox delivering replies to this platform; may be called before [`Adapter::run`].
    fn outbox(&self) -> Arc<dyn Outbox>;

    /// How fast replies may be sent (the platform's limits, as configured). The runtime paces every send
    /// with it; the outbox itself sends at once.
    fn send_policy(&self) -> SendPolicy {
        SendPolicy::default()
    }

    /// The local addresses this adapter will listen on, each with the configuration key that sets it, so
    /// that `config check` can refuse two listeners on one address before anything starts.
    fn listens(&self) -> Vec<(String, std::net::SocketAddr)> {
        Vec::new()
    }

    /// The commands the bot answers (plugins' and built-in), given once before [`Adapter::run`], for
    /// platforms that register commands up front (Discord slash commands, Telegram's command menu).
    fn register_commands(&mut self, commands: &[crate::plugin::Command]) {
        let _ = commands;
    }

    /// Receives until `shutdown` is cancelled (or, for finite inputs like the console, until input ends).
    /// Must authenticate and deduplicate traffic before submitting it.
    async fn run(self: Box<Self>, sink: EventSink, shutdown: CancellationToken) -> Result<(), AdapterError>;
}
