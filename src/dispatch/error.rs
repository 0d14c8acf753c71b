//! Why handling an event failed. The user never sees these; they get a short apology and the error is logged.

use std::time::Duration;

use crate::store::StoreError;

/// A failure inside the dispatcher's stack.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// The store failed while loading or saving conversation state.
    #[error("store failure: {0}")]
    Store(#[from] StoreError),
    /// A plugin handler returned an internal error.
    #[error("plugin `{plugin}` failed: {message}")]
    Plugin {
        /// The plugin.
        plugin: &'static str,
        /// Its error text.
        message: String,
    },
    /// A handler panicked; the panic was contained.
    #[error("a handler panicked: {0}")]
    Panicked(String),
    /// The action needs step-up verification first (its scope, `plugin.action`, and for single-use
    /// approvals its details). The step-up gate turns this into a code prompt; without a gate the user is
    /// told verification is not available.
    #[error("step-up verification required for `{}`", .0.scope)]
    StepUpRequired(crate::plugin::Approval),
    /// A handler ran longer than `[dispatch] handler_timeout`.
    #[error("a handler ran longer than {0:?} and was abandoned")]
    TimedOut(Duration),
}
