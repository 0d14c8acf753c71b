//! The default backend: an embedded sled database in a local directory.
//!
//! Point reads and writes run inline: sled serves them from its page cache and log buffer in microseconds,
//! and handing each to the blocking pool would cost more than the operation. What can block for long — an
//! fsync ([`Backend::flush`]) and scans over whole trees — runs on tokio's blocking pool, so no worker thread
//! waits on the disk.

use std::path::Path;

use async_trait::async_trait;

use super::StoreError;
use super::backend::{Backend, Pair};

/// sled trees, one per namespace. sled batches writes and writes its log every 500 ms on its own; writes that must
/// not be lost call [`Backend::flush`] before the caller is told they are done.
///
/// A flush is sled's flush, then a data sync of sled's log file. On Linux sled's flush writes its log with
/// `sync_file_range`, which puts the pages on the device but neither empties the device's write cache nor
/// records a grown file's new length: after a power cut the log could end before the flushed writes. The
/// data sync does both, so what a flush returned for survives a power cut.
#[derive(Debug, Clone)]
pub struct SledBackend {
    db: sled::Db,
    /// sled's log file (`db` in its directory), opened again for its data syncs.
    log: std::sync::Arc<std::fs::File>,
}

impl SledBackend {
    /// Opens (or creates) the database in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let fail = |reason: String| StoreError::Open { path: dir.display().to_string(), reason };
        crate::private_file::create_private_dir(dir).map_err(|e| fail(format!("cannot create the directory: {e}")))?;
        let opened = match open_waiting_for_lock(dir) {
            // A crash while sled wrote a snapshot leaves `snap.<n>.generating` behind, and sled then refuses
            // every open (spacejam/sled#1527). The half-written snapshot is useless: remove it and try again.
            Err(sled::Error::Corruption { .. }) if remove_half_written_snapshots(dir) > 0 => open_waiting_for_lock(dir),
            other => other,
        };
        let db = opened.map_err(|e| match e {
            sled::Error::Corruption { .. } => fail(
                "its files are damaged (the database engine found corrupted data). Restore the data directory from \
                 a backup (see \"Backups\" in docs/operations.md); the master key is not the problem"
                    .into(),
            ),
            e if e.to_string().contains("lock") || e.to_string().contains("WouldBlock") => {
                fail(format!("{e} (is another palisade process using this data directory?)"))
            }
            e => fail(format!("{e} (check the directory's permissions and free space)")),
        })?;
        // sled creates its files with the process's umask; the directory is 0700 already, and the files are
        // made 0600 too, so a later change of the directory's mode exposes nothing.
        crate::private_file::tighten(dir).map_err(|e| fail(format!("cannot restrict the files' permissions: {e}")))?;
        let log = std::fs::File::open(dir.join("db"))
            .map_err(|e| fail(format!("cannot open the database's log file {}: {e}", dir.join("db").display())))?;
        Ok(Self { db, log: std::sync::Arc::new(log) })
    }

    fn tree(&self, name: &str) -> Result<sled::Tree, StoreError> {
        self.db.open_tree(name).map_err(|e| backend("open tree", name, &e))
    }

    /// Runs `f` on the blocking pool with a handle to the database.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Self) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || f(&this)).await.map_err(|e| StoreError::Backend {
            op: "blocking task",
            namespace: "*".into(),
            reason: e.to_string(),
        })?
    }
}

/// Removes the `snap.*.generating` files a crash left in `dir`; returns how many.
fn remove_half_written_snapshots(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("snap.") && name.ends_with(".generating") && std::fs::remove_file(entry.path()).is_ok() {
            tracing::warn!(file = %name, "removed a half-written snapshot a crash left behind");
            removed += 1;
        }
    }
    removed
}

/// Opens the database; a lock held by a handle that is just closing (sled releases it from a background
/// thread shortly after the last handle drops) is waited for, up to two seconds.
fn open_waiting_for_lock(dir: &Path) -> sled::Result<sled::Db> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        match sled::Config::new().path(dir).open() {
            Err(e) if e.to_string().contains("WouldBlock") && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(25));
            }
            other => return other,
        }
    }
}

fn backend(op: &'static str, namespace: &str, e: &sled::Error) -> StoreError {
    StoreError::Backend { op, namespace: namespace.to_string(), reason: e.to_string() }
}

#[async_trait]
impl Backend for SledBackend {
    async fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let v = self.tree(tree)?.get(key).map_err(|e| backend("get", tree, &e))?;
        Ok(v.map(|v| v.to_vec()))
    }

    async fn insert(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.tree(tree)?.insert(key, value).map_err(|e| backend("insert", tree, &e))?;
        Ok(())
    }

    async fn remove(&self, tree: &str, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.tree(tree)?.remove(key).map_err(|e| backend("remove", tree, &e))?.is_some())
    }

    async fn remove_if_unchanged(&self, tree: &str, key: &[u8], expected: &[u8]) -> Result<bool, StoreError> {
        let swapped = self
            .tree(tree)?
            .compare_and_swap(key, Some(expected), None::<&[u8]>)
            .map_err(|e| backend("compare and remove", tree, &e))?;
        Ok(swapped.is_ok())
    }

    async fn replace_if_unchanged(
        &self,
        tree: &str,
        key: &[u8],
        expected: &[u8],
        value: &[u8],
    ) -> Result<bool, StoreError> {
        let swapped = self
            .tree(tree)?
            .compare_and_swap(key, Some(expected), Some(value))
            .map_err(|e| backend("compare and replace", tree, &e))?;
        Ok(swapped.is_ok())
    }

    async fn insert_if_absent(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let swapped = self
            .tree(tree)?
            .compare_and_swap(key, None::<&[u8]>, Some(value))
            .map_err(|e| backend("insert if absent", tree, &e))?;
        Ok(swapped.err().and_then(|held| held.current.map(|v| v.to_vec())))
    }

    async fn scan_prefix(&self, tree: &str, prefix: &[u8]) -> Result<Vec<Pair>, StoreError> {
        let (tree, prefix) = (tree.to_string(), prefix.to_vec());
        self.blocking(move |this| {
            this.tree(&tree)?
                .scan_prefix(&prefix)
                .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(|e| backend("scan", &tree, &e)))
                .collect()
        })
        .await
    }

    async fn trees(&self) -> Result<Vec<String>, StoreError> {
        self.blocking(|this| {
            Ok(this
                .db
                .tree_names()
                .into_iter()
                .filter_map(|n| String::from_utf8(n.to_vec()).ok())
                .filter(|n| n != "__sled__default")
                .filter(|n| this.tree(n).is_ok_and(|t| !t.is_empty()))
                .collect())
        })
        .await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.blocking(|this| {
            this.db.flush().map_err(|e| backend("flush", "*", &e))?;
            this.log.sync_data().map_err(|e| StoreError::Backend {
                op: "flush",
                namespace: "*".into(),
                reason: format!("the data sync of the database's log failed: {e}"),
            })
        })
        .await
    }

    /// sled keeps one log for every tree, and recovery replays it only up to the first message missing or
    /// torn (`check_contiguity_in_unstable_tail` in sled's log iterator): what a crash leaves is a prefix.
    fn recovers_in_order(&self) -> bool {
        true
    }
}
