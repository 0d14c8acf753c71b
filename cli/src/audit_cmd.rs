//! `palisade audit verify` and `palisade audit export`.

use std::path::PathBuf;

use clap::Subcommand;
use serde::{Deserialize, Serialize};

use palisade::control::Answer;

use palisade::audit::Audit;
use palisade::clock::SystemClock;
use palisade::config::Loaded;
use palisade::store::{self, StoreError};

use crate::report::{self, Report};

/// `palisade audit …`.
#[derive(Debug, Subcommand, Serialize, Deserialize)]
pub enum AuditAction {
    /// Check the whole chain; names the first entry changed, removed, inserted or reordered (exit 1). The
    /// chain must also reach the entry the store's anchor recorded.
    Verify {
        /// The chain must reach at least this entry: a sequence number kept outside this machine (every
        /// append logs `audit_seq` at info), which an older copy of the whole data directory cannot show.
        #[arg(long, value_name = "N")]
        expect_seq: Option<u64>,
    },
    /// Write entries as JSON lines (for a SIEM).
    Export {
        /// Only entries at or after this time: RFC 3339 (`2026-11-01T00:00:00Z`) or a date (`2026-11-01`).
        #[arg(long)]
        since: Option<String>,
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Runs one audit action on the store, opened here.
pub async fn run(loaded: &Loaded, action: AuditAction) -> Answer {
    match store::open(&loaded.settings.store, SystemClock::shared()).await {
        Ok(store) => act(&Audit::new(store, SystemClock::shared()), action).await,
        Err(e) => report::error(1, e),
    }
}

/// Runs one audit action on `audit` (the bot's own when it runs).
pub async fn act(audit: &Audit, action: AuditAction) -> Answer {
    let mut r = Report::default();
    let result = match action {
        AuditAction::Verify { expect_seq } => verify(audit, expect_seq, &mut r).await,
        AuditAction::Export { since, out: _ } => export(audit, since.as_deref(), &mut r).await,
    };
    match result {
        Ok(code) => r.code(code),
        Err(e) => report::error(1, e),
    }
}

async fn verify(audit: &Audit, expect_seq: Option<u64>, r: &mut Report) -> Result<u8, StoreError> {
    let findings = audit.verify(expect_seq).await?;
    let count = audit.entries_since(0).await?.len();
    match findings.first() {
        None => {
            let entries = if count == 1 { "1 entry".to_string() } else { format!("{count} entries") };
            r.say(format!("audit trail intact: {entries}, chain and head verified"));
            Ok(0)
        }
        Some(f) => {
            r.say(format!("audit trail TAMPERED: {f}"));
            Ok(1)
        }
    }
}

fn parse_since(since: &str) -> Result<u64, StoreError> {
    let full = if since.len() == 10 { format!("{since}T00:00:00Z") } else { since.to_string() };
    humantime::parse_rfc3339_weak(&full)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(palisade::clock::millis)
        .ok_or_else(|| StoreError::Codec {
            namespace: "cli".into(),
            reason: format!("--since `{since}` is not a date like 2026-11-01 or 2026-11-01T12:00:00Z"),
        })
}

async fn export(audit: &Audit, since: Option<&str>, r: &mut Report) -> Result<u8, StoreError> {
    let since_ms = since.map(parse_since).transpose()?.unwrap_or(0);
    let mut lines = String::new();
    for e in audit.entries_since(since_ms).await? {
        let mut value = serde_json::to_value(&e)
            .map_err(|err| StoreError::Codec { namespace: "audit".into(), reason: err.to_string() })?;
        if let Some(obj) = value.as_object_mut() {
            let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(e.at_ms);
            obj.insert("time".into(), humantime::format_rfc3339_millis(at).to_string().into());
        }
        lines.push_str(&value.to_string());
        lines.push('\n');
    }
    r.document(lines.into_bytes());
    Ok(0)
}
