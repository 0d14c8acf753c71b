//! Scheduled jobs: a handler asks for one ([`crate::Ctx::schedule`]); the runtime keeps it encrypted under
//! the user (so erasing the user removes it, and an export lists it), survives restarts, and when it is due
//! calls the plugin's [`crate::Plugin::job`] in the chat it was asked in. Its replies are proactive messages:
//! they go through the same send pacing and delivery rules as replies.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::event::{ChatRef, UserRef};

/// A job as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Random id.
    pub id: String,
    /// The plugin it belongs to.
    pub plugin: String,
    /// The name the plugin gave it (what its `job` handler dispatches on).
    pub name: String,
    /// What the plugin attached.
    pub data: serde_json::Value,
    /// When it is due, ms since the epoch.
    pub due_ms: u64,
    /// For a periodic job, the period in ms.
    pub every_ms: Option<u64>,
    /// Whose it is.
    pub user: UserRef,
    /// Where it answers.
    pub chat: ChatRef,
}

/// A job a handler asked for; stored when the handler succeeds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobRequest {
    /// Its name.
    pub name: &'static str,
    /// Due after this long.
    pub after: Duration,
    /// Then every this long, if periodic.
    pub every: Option<Duration>,
    /// What the handler attached.
    pub data: serde_json::Value,
}

/// The longest a job may wait, and the shortest period of a periodic one.
pub const LONGEST_WAIT: Duration = Duration::from_secs(366 * 86_400);
/// The shortest period of a periodic job.
pub const SHORTEST_PERIOD: Duration = Duration::from_secs(60);
