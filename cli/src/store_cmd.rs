//! `palisade keygen` and `palisade store …`: key files, checks, statistics, retention sweeps and master key
//! rotation.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Subcommand;
use serde::{Deserialize, Serialize};

use palisade::clock::SystemClock;
use palisade::config::{Loaded, StoreBackend};
use palisade::control::{Answer, Live};
use palisade::plugin::{DataManifest, Registry};
use palisade::store::{self, Backend, SledBackend, StoreError};

use crate::report::{self, Report};

/// `palisade store …`.
#[derive(Debug, Subcommand, Serialize, Deserialize)]
pub enum StoreAction {
    /// Open every record; report counts per namespace and every record that fails to open (exit 1 if any).
    Check,
    /// Counts per namespace, data subjects and size on disk.
    Stats,
    /// Delete records older than their retention (the plugins' data manifests, shortened by `[store.retention]`)
    /// and records left behind by interrupted erasures.
    Sweep,
    /// Re-wrap every data key under a new master key (records are not rewritten). Resumable.
    RotateKey {
        /// A key file made with `palisade keygen`.
        #[arg(long)]
        new_key_file: PathBuf,
    },
    /// Write a consistent, sealed backup of the whole store to a file (while the bot is stopped; a running bot
    /// takes its own backups, see `[store.backup]`).
    Backup {
        /// The backup file to write (replaced atomically, mode 0600).
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore a backup into the configured data directory, which must be empty or absent: the backup is
    /// checked against the master key before anything is written, and the restore is audited.
    Restore {
        /// A file written by `palisade store backup` or by the bot's scheduled backups.
        file: PathBuf,
    },
    /// Go on with a store that lost writes it had confirmed (or its anchor file): re-anchor it where it is
    /// now and record that in the audit trail. Restoring a backup is the better way; this is the knowing one.
    AcceptLoss,
}

/// `palisade keygen --out FILE`.
pub fn keygen(out: &Path) -> ExitCode {
    match store::write_key_file(out) {
        Ok(()) => {
            println!(
                "wrote a new master key to {} (mode 0600). Back it up somewhere safe: without it the store cannot be read.",
                out.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

fn fail(e: &StoreError) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::FAILURE
}

/// Runs one store action on the store, opened here.
pub async fn run(loaded: &Loaded, registry: &Registry, action: StoreAction) -> Answer {
    let settings = &loaded.settings.store;
    if settings.backend == StoreBackend::Memory {
        return report::error(
            2,
            "`store.backend = \"memory\"` keeps nothing to inspect; this works on a sled or Redis store",
        );
    }
    if settings.backend == StoreBackend::Redis && matches!(action, StoreAction::AcceptLoss) {
        return report::error(2, "a Redis store has no anchor file, so there is no loss to accept");
    }
    let mut r = Report::default();
    let result = match action {
        StoreAction::RotateKey { new_key_file } => rotate(loaded, &new_key_file, &mut r).await,
        StoreAction::AcceptLoss => accept_loss(loaded, &mut r).await,
        StoreAction::Backup { out } => backup(loaded, &out, &mut r).await,
        StoreAction::Restore { file } => restore(loaded, &file, &mut r).await,
        other => {
            let mut manifests = vec![("core".to_string(), palisade::privacy::core_manifest())];
            let plugins = registry.build_plugins(&loaded.settings).unwrap_or_default();
            manifests.extend(plugins.iter().map(|p| (p.name().to_string(), p.manifest())));
            match store::open(settings, SystemClock::shared()).await {
                Ok(s) => inspect(loaded, &*s, other, &manifests, &mut r).await,
                Err(e) => Err(e),
            }
        }
    };
    match result {
        Ok(code) => r.code(code),
        Err(e) => report::error(1, e),
    }
}

/// Runs one store action inside the running bot, on its open store.
pub async fn act_live(live: &Live, action: StoreAction) -> Answer {
    let mut r = Report::default();
    let result = match action {
        StoreAction::RotateKey { .. } => {
            return report::error(
                2,
                "rotate-key needs the bot stopped: the running bot wraps new data keys under the master key it \
                 started with. Stop it, rotate, point the configuration at the new key, start it again",
            );
        }
        StoreAction::Restore { .. } => {
            return report::error(2, "restore replaces the whole store; stop the bot first");
        }
        StoreAction::AcceptLoss => {
            return report::error(2, "the running bot opened its store; there is no loss to accept");
        }
        StoreAction::Backup { out } => live_backup(live, &out, &mut r).await,
        other => inspect(&live.loaded, &*live.store, other, live.privacy.manifests(), &mut r).await,
    };
    match result {
        Ok(code) => r.code(code),
        Err(e) => report::error(1, e),
    }
}

async fn inspect(
    loaded: &Loaded,
    store: &dyn store::Store,
    action: StoreAction,
    manifests: &[(String, DataManifest)],
    r: &mut Report,
) -> Result<u8, StoreError> {
    if matches!(action, StoreAction::Sweep) {
        return sweep(loaded, store, manifests, r).await;
    }
    let stats = store.stats().await?;
    match action {
        StoreAction::Stats => {
            for s in &stats {
                r.say(format!("{}: {} record(s)", s.namespace, s.records));
            }
            r.say(format!("data subjects with a key: {}", store.subject_count().await?));
            r.say(format!("size on disk: {} bytes", palisade::health::disk_usage(&loaded.settings.store.path)));
            Ok(0)
        }
        _ => {
            let mut bad = 0;
            for s in &stats {
                r.say(format!("{}: {} record(s) open, {} unreadable", s.namespace, s.records, s.unreadable));
                for f in &s.failures {
                    r.say(format!("  {f}"));
                }
                bad += s.unreadable;
            }
            r.say(if bad == 0 { "store OK".to_string() } else { format!("{bad} unreadable record(s)") });
            Ok(u8::from(bad != 0))
        }
    }
}

async fn sweep(
    loaded: &Loaded,
    store: &dyn store::Store,
    manifests: &[(String, DataManifest)],
    r: &mut Report,
) -> Result<u8, StoreError> {
    // The same rules as the running bot: the manifests' retention, shortened by [store.retention].
    let ttl = store::retention_rules(manifests, &loaded.settings.store.retention());
    let removed = store::sweep_expired(store, &ttl, &SystemClock).await?;
    for (ns, n) in removed.into_iter().filter(|(_, n)| *n > 0) {
        r.say(format!("{ns}: removed {n} record(s)"));
    }
    Ok(0)
}

/// Re-wraps a Redis store's keys under a new master key, with every replica stopped: a replica running
/// meanwhile would wrap the data keys it creates under the old key, which the new one cannot open. One
/// started while the rotation runs is refused (a rotation in progress blocks opening the store).
async fn rotate_shared(
    settings: &palisade::config::StoreSettings,
    old: &palisade::crypto::Key,
    new: &palisade::crypto::Key,
    r: &mut Report,
) -> Result<u64, StoreError> {
    let backend: Arc<dyn Backend> = Arc::new(palisade::store::RedisBackend::connect(&settings.redis).await?);
    let clock = SystemClock::shared();
    let before: palisade::store::SharedStore =
        Arc::new(store::RecordStore::open(backend.clone(), old, clock.clone()).await?);
    let running = palisade::replicas::running(&before, &clock).await?;
    if running > 0 {
        return Err(StoreError::MasterKey(format!(
            "{running} replica(s) of this bot are running on this Redis (their names beat in the store within the \
             last 20 s): stop every one of them, then rotate; they would keep wrapping new keys under the old one"
        )));
    }
    let progress = store::rotate(&*backend, old, new, None).await?;
    let after: palisade::store::SharedStore = Arc::new(store::RecordStore::open(backend, new, clock.clone()).await?);
    if palisade::replicas::running(&after, &clock).await? > 0 {
        r.say("warning: a replica started while the rotation ran; stop it and start it again with the new key");
    }
    let audit = palisade::audit::Audit::new(after, clock);
    let details = [("rewrapped", progress.rewrapped.to_string())];
    audit.record("store.key_rotated", None, palisade::audit::Outcome::Info, &details).await?;
    Ok(progress.rewrapped)
}

async fn rotate(loaded: &Loaded, new_key_file: &Path, r: &mut Report) -> Result<u8, StoreError> {
    let mut settings = loaded.settings.store.clone();
    settings.create_key_file = false; // never invent the old key
    let settings = &settings;
    let old = store::load_master_key(settings)?;
    let mut new_settings = settings.clone();
    new_settings.master_key = None;
    new_settings.master_key_file = Some(new_key_file.to_path_buf());
    new_settings.create_key_file = false;
    let new = store::load_master_key(&new_settings)?;
    if palisade::crypto::ct_eq(old.expose(), new.expose()) {
        return Err(StoreError::MasterKey(format!(
            "{} holds the key already configured; make a new one with `palisade keygen --out FILE`",
            new_key_file.display()
        )));
    }
    if settings.backend == StoreBackend::Redis {
        let rewrapped = rotate_shared(settings, &old, &new, r).await?;
        r.say(format!(
            "re-wrapped {rewrapped} key(s). Now point `store.master_key_file` of every replica at {} (or set \
             PALISADE__STORE__MASTER_KEY to its content), start them, and retire the old key.",
            new_key_file.display()
        ));
        return Ok(0);
    }
    store::check_key_before_open(settings, &old)?;
    let anchor = store::anchor_path(settings);
    // While the rotation runs (and until the store is next anchored) either key may open the store.
    store::anchor::allow_key(&anchor, &store::key_id(&new)?)?;
    let backend: Arc<dyn Backend> = Arc::new(SledBackend::open(&settings.path)?);
    let progress = store::rotate(&*backend, &old, &new, None).await?;
    let reopened = store::RecordStore::open_anchored(backend, &new, SystemClock::shared(), &anchor).await?;
    let audit = palisade::audit::Audit::new(Arc::new(reopened), SystemClock::shared());
    let details = [("rewrapped", progress.rewrapped.to_string())];
    audit.record("store.key_rotated", None, palisade::audit::Outcome::Info, &details).await?;
    r.say(format!(
        "re-wrapped {} key(s) ({} were already done). Now point `store.master_key_file` at {} (or set \
         PALISADE__STORE__MASTER_KEY to its content), run `palisade store check`, then retire the old key.",
        progress.rewrapped,
        progress.already_done,
        new_key_file.display()
    ));
    Ok(0)
}

async fn backup(loaded: &Loaded, out: &Path, r: &mut Report) -> Result<u8, StoreError> {
    let store = store::open_records(&loaded.settings.store, SystemClock::shared()).await.map_err(|e| match e {
        StoreError::Open { path, reason } if reason.contains("another palisade process") => StoreError::Open {
            path,
            reason: format!(
                "{reason}. A running bot takes its own backups: set `[store.backup] dir` (see \"Backups\" in \
                 docs/operations.md), or stop it first"
            ),
        },
        other => other,
    })?;
    let audit = palisade::audit::Audit::new(store.clone(), SystemClock::shared());
    let detail = [("file", out.display().to_string())];
    audit.record("store.backup", None, palisade::audit::Outcome::Info, &detail).await?;
    let summary = store.backup(out).await?;
    r.say(backed_up(&summary, out));
    Ok(0)
}

fn backed_up(summary: &store::BackupSummary, out: &Path) -> String {
    format!(
        "wrote {} record(s) of {} tree(s) to {} ({} bytes, sealed: restoring it needs the master key).",
        summary.records,
        summary.trees,
        out.display(),
        summary.bytes
    )
}

/// A backup the running bot takes (a consistent cut, as its scheduled ones) and hands over as a document,
/// which the command line writes to `out`.
async fn live_backup(live: &Live, out: &Path, r: &mut Report) -> Result<u8, StoreError> {
    let Some(records) = &live.records else {
        r.warn("error: this bot's store cannot be backed up (the memory store keeps nothing)");
        return Ok(2);
    };
    let aside = live.loaded.settings.store.path.join(format!("control-backup-{}.tmp", std::process::id()));
    let detail = [("file", out.display().to_string())];
    live.audit.record("store.backup", None, palisade::audit::Outcome::Info, &detail).await?;
    let summary = records.backup(&aside).await;
    let bytes = summary.as_ref().ok().map(|_| std::fs::read(&aside));
    let _ = std::fs::remove_file(&aside);
    let summary = summary?;
    let bytes = bytes.unwrap_or_else(|| Ok(Vec::new())).map_err(|e| StoreError::Backend {
        op: "backup",
        namespace: "*".into(),
        reason: format!("cannot read the backup back from {}: {e}", aside.display()),
    })?;
    r.document(bytes);
    r.say(backed_up(&summary, out));
    Ok(0)
}

async fn restore(loaded: &Loaded, file: &Path, r: &mut Report) -> Result<u8, StoreError> {
    let (restored, summary) = store::restore(file, &loaded.settings.store, SystemClock::shared()).await?;
    let audit = palisade::audit::Audit::new(Arc::new(restored), SystemClock::shared());
    let trail = audit.verify(None).await?;
    audit.reanchor().await?;
    let taken =
        humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_millis(summary.created_ms))
            .to_string();
    let details =
        [("file", file.display().to_string()), ("taken", taken.clone()), ("records", summary.records.to_string())];
    let seq = audit.record("store.restored", None, palisade::audit::Outcome::Info, &details).await?;
    r.say(format!(
        "restored {} record(s) from {} (taken {taken}) into {}; recorded as audit entry {seq}.",
        summary.records,
        file.display(),
        loaded.settings.store.location()
    ));
    match trail.first() {
        Some(f) => {
            r.say(format!("warning: the restored audit trail is not intact ({f})."));
            Ok(1)
        }
        None => Ok(0),
    }
}

async fn accept_loss(loaded: &Loaded, r: &mut Report) -> Result<u8, StoreError> {
    let settings = &loaded.settings.store;
    let master = store::load_master_key(settings)?;
    store::check_key_before_open(settings, &master)?;
    let backend: Arc<dyn Backend> = Arc::new(SledBackend::open(&settings.path)?);
    let anchor = store::anchor_path(settings);
    let (reopened, accepted) =
        store::RecordStore::accept_loss(backend, &master, SystemClock::shared(), &anchor).await?;
    let audit = palisade::audit::Audit::new(Arc::new(reopened), SystemClock::shared());
    let before = accepted.anchored.clone().unwrap_or_default();
    let trail = audit.verify(None).await?;
    audit.reanchor().await?;
    let details = [
        ("anchored_writes", if accepted.anchored.is_some() { before.writes.to_string() } else { "unknown".into() }),
        ("stored_writes", accepted.stored.to_string()),
        ("anchored_audit_seq", before.audit_seq.to_string()),
    ];
    let seq = audit.record("store.loss_accepted", None, palisade::audit::Outcome::Info, &details).await?;
    match &accepted.anchored {
        Some(a) => r.say(format!(
            "the anchor recorded {} flushed writes and audit entry {}; the store holds {} writes. Re-anchored \
             there; recorded as audit entry {seq}.",
            a.writes, a.audit_seq, accepted.stored
        )),
        None => r.say(format!(
            "the anchor file was missing or unreadable; the store holds {} writes. Re-anchored there; recorded as \
             audit entry {seq}.",
            accepted.stored
        )),
    }
    if let Some(f) = trail.first() {
        r.say(format!(
            "note: the audit trail itself is not intact ({f}); `palisade audit verify` will keep saying so."
        ));
    }
    Ok(0)
}
