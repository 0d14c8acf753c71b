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
    /// The master key does not match the one the store was created with.
    #[error(
        "the master key does not match this store (key check value differs); configure the key it was created \
         with, or finish a rotation with `palisade store rotate-key`"
    )]
    WrongKey,
    /// The store is behind its anchor: flushed writes it confirmed are gone (its files were damaged, or
    /// replaced by an older copy).
    #[error(
        "the store at {path} is missing writes it confirmed: its anchor records {anchored} flushed writes, the \
         store holds {stored}, so its files were damaged or replaced by an older copy. Restore the data \
         directory from a backup, or run `palisade store accept-loss` to go on with what is left (audited)"
    )]
    LostWrites {
        /// The data directory.
        path: String,
        /// Flushed writes the anchor recorded.
        anchored: u64,
        /// Flushed writes the store holds.
        stored: u64,
    },
    /// A master key rotation was started and not finished.
    #[error(
        "a master key rotation was interrupted; keep the old key configured and run `palisade store rotate-key \
         --new-key-file NEW` again with the same new key to finish it"
    )]
    RotationInterrupted,
    /// The data directory holds records written without encryption.
    #[error(
        "the store holds data but no key check value: it was not created by this version; move it aside and start fresh"
    )]
    NotEncrypted,
    /// A backup file could not be written, read or trusted; the text says why and what to do.
    #[error("backup {file}: {reason}")]
    Backup {
        /// The backup file.
        file: String,
        /// What failed and what to do.
        reason: String,
    },
    /// The master key could not be obtained; the text says where it was looked for and what to do.
    #[error("master key: {0}")]
    MasterKey(String),
    /// A plugin wrote to a namespace its data manifest does not declare (data minimisation is enforced).
    #[error(
        "namespace `{0}` is not declared in the plugin's data manifest; declare it in `Plugin::manifest` with its purpose, legal basis and retention"
    )]
    Undeclared(String),
    /// The namespace name is not allowed (empty, too long, or using a reserved character).
    #[error("invalid namespace `{0}`: use 1-64 characters from a-z, 0-9, `_`, `-` and `.`, not starting with `_`")]
    Namespace(String),
}
