//! Backups: a consistent copy of every backend tree exactly as stored — records stay sealed under their data
//! keys and data keys stay wrapped under the master key, so a backup file is as safe to keep as the data
//! directory itself — followed by a MAC under a key derived from the store's keys, so a damaged, truncated or
//! altered backup is refused before anything is restored.
//!
//! The file: the magic line `PALISADE-BACKUP v1\n`, the creation time (u64 ms, big-endian), then frames of
//! one tag byte and a big-endian u32 length (`T` a tree name, `K` a key, `V` its value), an end frame (`E`,
//! length 8, the number of records), and the 32-byte MAC of everything before it.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use super::backend::Backend;
use super::keyring::Keyring;
use super::{MemoryBackend, StoreError};
use crate::clock::Clock;
use crate::crypto::Key;

/// One backend tree: its name and its pairs.
type Tree = (String, Vec<super::backend::Pair>);

const MAGIC: &[u8] = b"PALISADE-BACKUP v1\n";
const PURPOSE: &str = "palisade/backup/v1";

/// What a backup holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupSummary {
    /// Records (of every tree, the keyring's included).
    pub records: u64,
    /// Trees.
    pub trees: u64,
    /// When it was taken (ms since the epoch).
    pub created_ms: u64,
    /// Its size in bytes.
    pub bytes: u64,
}

fn problem(file: &Path, reason: impl Into<String>) -> StoreError {
    StoreError::Backup { file: file.display().to_string(), reason: reason.into() }
}

fn frame(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    out.push(tag);
    // Trees, keys and values are far below 4 GiB (sled's own limit is lower).
    out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// Copies every tree of `backend` (whose keys `keys` are) into `out`, atomically: the file appears complete
/// or not at all, with mode 0600. The caller keeps writers out meanwhile.
pub(super) async fn write(
    backend: &dyn Backend,
    keys: &Keyring,
    created_ms: u64,
    out: &Path,
) -> Result<BackupSummary, StoreError> {
    let mut body = MAGIC.to_vec();
    body.extend_from_slice(&created_ms.to_be_bytes());
    let (mut records, mut trees) = (0u64, 0u64);
    for tree in backend.trees().await? {
        frame(&mut body, b'T', tree.as_bytes());
        trees += 1;
        for (key, value) in backend.scan_prefix(&tree, &[]).await? {
            frame(&mut body, b'K', &key);
            frame(&mut body, b'V', &value);
            records += 1;
        }
    }
    frame(&mut body, b'E', &records.to_be_bytes());
    let mac = mac_key(keys, out)?.hash(&body);
    body.extend_from_slice(&mac);
    let bytes = body.len() as u64;
    let file = out.to_path_buf();
    tokio::task::spawn_blocking(move || write_atomically(&file, &body))
        .await
        .map_err(|e| problem(out, e.to_string()))?
        .map_err(|e| problem(out, format!("cannot be written ({e}); check the directory exists and has room")))?;
    Ok(BackupSummary { records, trees, created_ms, bytes })
}

fn mac_key(keys: &Keyring, file: &Path) -> Result<Key, StoreError> {
    keys.index.derive(PURPOSE).map_err(|e| problem(file, e.to_string()))
}

fn write_atomically(path: &Path, body: &[u8]) -> std::io::Result<()> {
    let partial = path.with_extension("partial");
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&partial)?;
        file.write_all(body)?;
        file.sync_all()?;
    }
    std::fs::rename(&partial, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// A backup read back and checked: its trees, and what it holds.
pub struct Verified {
    trees: Vec<Tree>,
    /// What it holds.
    pub summary: BackupSummary,
}

impl std::fmt::Debug for Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verified").field("summary", &self.summary).finish_non_exhaustive()
    }
}

/// Reads `file` and checks it against `master`: its format, its record count and its MAC. Nothing is
/// written anywhere.
pub async fn verify(file: &Path, master: &Key) -> Result<Verified, StoreError> {
    let bytes = std::fs::read(file).map_err(|e| problem(file, format!("cannot be read ({e})")))?;
    let (trees, created_ms, records, signed) = parse(&bytes).map_err(|reason| {
        problem(file, format!("{reason}: it is damaged or not a Palisade backup; use another copy"))
    })?;
    let memory = Arc::new(MemoryBackend::new());
    for (tree, pairs) in &trees {
        for (k, v) in pairs {
            memory.insert(tree, k, v).await?;
        }
    }
    let keys = match Keyring::open(memory, master).await {
        Ok(keys) => keys,
        Err(StoreError::WrongKey) => {
            return Err(problem(
                file,
                "was made with another master key; configure the key the store had when the backup was taken",
            ));
        }
        Err(e) => return Err(e),
    };
    let expected = mac_key(&keys, file)?.hash(&bytes[..signed]);
    if !crate::crypto::ct_eq(&expected, &bytes[signed..]) {
        return Err(problem(file, "its MAC does not match: it was altered or damaged; use another copy"));
    }
    let summary = BackupSummary { records, trees: trees.len() as u64, created_ms, bytes: bytes.len() as u64 };
    Ok(Verified { trees, summary })
}

type Parsed = (Vec<Tree>, u64, u64, usize);

fn parse(bytes: &[u8]) -> Result<Parsed, String> {
    let rest = bytes.strip_prefix(MAGIC).ok_or("it does not start with the backup header")?;
    let (created, mut rest) = rest.split_at_checked(8).ok_or("it ends inside its header")?;
    let created_ms = u64::from_be_bytes(created.try_into().map_err(|_| "bad header")?);
    let mut trees: Vec<Tree> = Vec::new();
    let mut key: Option<&[u8]> = None;
    let mut count = 0u64;
    loop {
        let (&tag, after) = rest.split_first().ok_or("it is truncated (no end marker)")?;
        let (len, after) = after.split_at_checked(4).ok_or("it is truncated inside a frame")?;
        let len = u32::from_be_bytes(len.try_into().map_err(|_| "bad frame")?) as usize;
        let (body, after) = after.split_at_checked(len).ok_or("it is truncated inside a frame")?;
        rest = after;
        match (tag, key.take()) {
            (b'T', None) => {
                let name = std::str::from_utf8(body).map_err(|_| "a tree name is not text")?;
                trees.push((name.to_string(), Vec::new()));
            }
            (b'K', None) => key = Some(body),
            (b'V', Some(k)) => {
                let (_, pairs) = trees.last_mut().ok_or("a record comes before any tree")?;
                pairs.push((k.to_vec(), body.to_vec()));
                count += 1;
            }
            (b'E', None) => {
                let stated = u64::from_be_bytes(body.try_into().map_err(|_| "bad end marker")?);
                if stated != count {
                    return Err(format!("it states {stated} records and holds {count}"));
                }
                if rest.len() != 32 {
                    return Err("its MAC is missing or followed by extra bytes".into());
                }
                return Ok((trees, created_ms, count, bytes.len() - 32));
            }
            _ => return Err("its frames are out of order".into()),
        }
    }
}

/// Writes a verified backup into `backend`, which must be empty, and flushes it.
pub async fn load(backup: &Verified, backend: &dyn Backend) -> Result<(), StoreError> {
    for (tree, pairs) in &backup.trees {
        for (k, v) in pairs {
            backend.insert(tree, k, v).await?;
        }
    }
    backend.flush().await
}

/// The running bot's scheduled backups (`[store.backup]`): one now and then every `every`, named by their
/// time, the newest `keep` kept. Each is audited as `store.backup`.
pub struct BackupTask {
    /// The store.
    pub store: Arc<super::RecordStore>,
    /// Where the backups go.
    pub dir: std::path::PathBuf,
    /// How often.
    pub every: std::time::Duration,
    /// How many to keep.
    pub keep: usize,
    /// Where each backup is recorded.
    pub audit: Arc<crate::audit::Audit>,
}

impl BackupTask {
    /// Takes backups until `stop`.
    pub async fn run(self, stop: tokio_util::sync::CancellationToken) {
        let mut tick = tokio::time::interval(self.every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            match self.take().await {
                Ok((file, summary)) => tracing::info!(
                    file = %file.display(), records = summary.records, bytes = summary.bytes, "backup written"
                ),
                Err(error) => tracing::error!(%error, "backup failed; will try again at the next interval"),
            }
        }
    }

    /// Takes one backup now and prunes old ones; returns its file and what it holds.
    ///
    /// # Errors
    /// When the directory cannot be created or written, or the store cannot be read.
    pub async fn take(&self) -> Result<(std::path::PathBuf, BackupSummary), StoreError> {
        crate::private_file::create_private_dir(&self.dir).map_err(|e| problem(&self.dir, e.to_string()))?;
        let now = crate::clock::SystemClock.now_ms();
        let file = self.dir.join(format!("palisade-{now}.backup"));
        let detail = [("file", file.display().to_string())];
        self.audit.record("store.backup", None, crate::audit::Outcome::Info, &detail).await?;
        let summary = self.store.backup(&file).await?;
        let mut backups: Vec<_> = std::fs::read_dir(&self.dir)
            .map_err(|e| problem(&self.dir, e.to_string()))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| is_scheduled_backup(p))
            .collect();
        backups.sort_by_key(|p| backup_time(p));
        let surplus = backups.len().saturating_sub(self.keep);
        for old in &backups[..surplus] {
            if let Err(e) = std::fs::remove_file(old) {
                tracing::warn!(file = %old.display(), error = %e, "could not delete an old backup");
            }
        }
        Ok((file, summary))
    }
}

fn backup_time(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    name.strip_prefix("palisade-")?.strip_suffix(".backup")?.parse().ok()
}

fn is_scheduled_backup(path: &Path) -> bool {
    backup_time(path).is_some()
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn malformed_backups_are_refused_with_a_reason() {
        let mut good = super::MAGIC.to_vec();
        good.extend_from_slice(&7u64.to_be_bytes());
        super::frame(&mut good, b'T', b"notes");
        super::frame(&mut good, b'K', b"k");
        super::frame(&mut good, b'V', b"v");
        super::frame(&mut good, b'E', &1u64.to_be_bytes());
        good.extend_from_slice(&[0; 32]);
        let (trees, created, count, signed) = parse(&good).unwrap();
        assert_eq!((trees.len(), created, count, signed), (1, 7, 1, good.len() - 32));
        assert_eq!(trees[0].1, [(b"k".to_vec(), b"v".to_vec())]);

        assert!(parse(b"hello").unwrap_err().contains("header"));
        assert!(parse(&good[..good.len() - 40]).unwrap_err().contains("truncated"));
        assert!(parse(&good[..good.len() - 1]).unwrap_err().contains("MAC"));
        let mut miscounted = good.clone();
        let at = miscounted.len() - 33;
        miscounted[at] = 2;
        assert!(parse(&miscounted).unwrap_err().contains("states 2 records"));
    }
}
