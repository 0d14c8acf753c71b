//! Store errors.

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not be opened; the text says which path and what to check.
    #[error("cannot open the store at {path}: {reason}")]
    Open {
        /// The data directory.
        path: String,
        /// What failed and what to do.
        reason: String,
    },
    /// The backend failed an operation (disk full, I/O error).
    #[error("store {op} failed in namespace `{namespace}`: {reason}")]
    Backend {
        /// The operation.
        op: &'static str,
        /// Namespace involved.
        namespace: String,
        /// The backend's message.
        reason: String,
    },
    /// One record cannot be read: it is corrupt or was tampered with. Other records are unaffected.
    #[error("a record in namespace `{namespace}` cannot be read ({reason}); run `palisade store check`")]
    Unreadable {
        /// Namespace of the record.
        namespace: String,
        /// Why (never includes the record's content).
        reason: String,
    },
    /// A value could not be encoded or decoded as the caller's type.
    #[error("a value in namespace `{namespace}` does not match its type: {reason}")]
    Codec {
        /// Namespace of the record.
        namespace: String,
        /// The serde message.
        reason: String,
    },
    /// The namespace name is not allowed (empty, too long, or using a reserved character).
    #[error("invalid namespace `{0}`: use 1-64 characters from a-z, 0-9, `_`, `-` and `.`")]
    Namespace(String),
}
