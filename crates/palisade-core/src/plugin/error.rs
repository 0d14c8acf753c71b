//! The error type plugin handlers return.

use crate::store::StoreError;

/// Why a handler did not complete.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// A problem the user should read and can fix ("amount must be a number"); shown as is, not logged as
    /// a failure.
    #[error("{0}")]
    User(String),
    /// The store failed; the user gets an apology and the error is logged.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The action needs step-up verification first (for its scope, `plugin.action`, and for single-use
    /// approvals its details); returned by [`crate::Ctx::sensitive`], [`crate::Ctx::sensitive_once`] and
    /// [`crate::Ctx::checkpoint`]. Return it before any side effect.
    #[error("step-up verification required for `{}`", .0.scope)]
    StepUp(crate::plugin::Approval),
    /// Any other failure; logged, and the user gets an apology.
    #[error("{0}")]
    Internal(String),
}

impl PluginError {
    /// A message for the user.
    pub fn user(message: impl Into<String>) -> Self {
        Self::User(message.into())
    }

    /// An internal failure; `error` is logged, never shown.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        Self::Internal(error.to_string())
    }
}
