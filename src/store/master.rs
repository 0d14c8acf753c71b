//! Where the master key comes from: `PALISADE__STORE__MASTER_KEY` (base64) or a key file that only its owner
//! can read. `palisade keygen` writes such files.

use std::io::Write;
use std::path::Path;

use super::StoreError;
use crate::config::{StoreBackend, StoreSettings};
use crate::crypto::Key;

fn fail(message: impl Into<String>) -> StoreError {
    StoreError::MasterKey(message.into())
}

/// Loads the master key `[store]` names. A memory store without a key gets a random one (its data dies with
/// the process anyway); a sled store without one is an error that says how to make a key.
pub fn load_master_key(settings: &StoreSettings) -> Result<Key, StoreError> {
    match (&settings.master_key, &settings.master_key_file) {
        (Some(_), Some(_)) => Err(fail("set either `store.master_key` or `store.master_key_file`, not both")),
        (Some(secret), None) => Key::from_base64(secret.expose()).map_err(|e| {
            fail(format!("`store.master_key` (PALISADE__STORE__MASTER_KEY) is not a 32-byte base64 key: {e}"))
        }),
        (None, Some(path)) => {
            if !path.exists() && settings.create_key_file {
                write_key_file(path)?;
                tracing::warn!(path = %path.display(), "created a new master key file; back it up — without it the data cannot be read");
            }
            read_key_file(path)
        }
        (None, None) if settings.backend == StoreBackend::Memory => Key::generate().map_err(|e| fail(e.to_string())),
        (None, None) => Err(fail(
            "no master key configured: set PALISADE__STORE__MASTER_KEY (base64 of 32 bytes) or \
             `store.master_key_file`; create a key with `palisade keygen --out FILE`",
        )),
    }
}

/// Reads a key file, refusing one that group or others can read.
fn read_key_file(path: &Path) -> Result<Key, StoreError> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| {
        fail(format!("cannot read key file {shown}: {e}; create one with `palisade keygen --out {shown}`"))
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(fail(format!(
                "key file {shown} is accessible by group or others (mode {mode:03o}); run `chmod 600 {shown}`"
            )));
        }
    }
    let _ = meta;
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read key file {shown}: {e}")))?,
    );
    Key::from_base64(&text).map_err(|e| fail(format!("key file {shown} does not hold a key: {e}")))
}

/// Writes a fresh random key to a new file with mode 0600 (refuses to overwrite an existing file).
pub fn write_key_file(path: &Path) -> Result<(), StoreError> {
    let shown = path.display();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| fail(format!("cannot create {}: {e}", dir.display())))?;
    }
    let key = Key::generate().map_err(|e| fail(e.to_string()))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => fail(format!("{shown} already exists; refusing to overwrite a key")),
        _ => fail(format!("cannot create {shown}: {e}")),
    })?;
    let line = zeroize::Zeroizing::new(format!("{}\n", key.to_base64().as_str()));
    file.write_all(line.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| fail(format!("cannot write {shown}: {e}")))
}
