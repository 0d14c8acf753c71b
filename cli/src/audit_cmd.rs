//! `palisade audit verify` and `palisade audit export`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use palisade::audit::Audit;
use palisade::clock::SystemClock;
use palisade::config::Loaded;
use palisade::store::{self, StoreError};

/// `palisade audit …`.
#[derive(Debug, Subcommand)]
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

/// Runs one audit action.
pub async fn run(loaded: &Loaded, action: AuditAction) -> ExitCode {
    let result = match store::open(&loaded.settings.store, SystemClock::shared()).await {
        Ok(store) => {
            let audit = Audit::new(store, SystemClock::shared());
            match action {
                AuditAction::Verify { expect_seq } => verify(&audit, expect_seq).await,
                AuditAction::Export { since, out } => export(&audit, since.as_deref(), out).await,
            }
        }
        Err(e) => Err(e),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e}");
        ExitCode::FAILURE
    })
}

async fn verify(audit: &Audit, expect_seq: Option<u64>) -> Result<ExitCode, StoreError> {
    let findings = audit.verify(expect_seq).await?;
    let count = audit.entries_since(0).await?.len();
    match findings.first() {
        None => {
            let entries = if count == 1 { "1 entry".to_string() } else { format!("{count} entries") };
            println!("audit trail intact: {entries}, chain and head verified");
            Ok(ExitCode::SUCCESS)
        }
        Some(f) => {
            println!("audit trail TAMPERED: {f}");
            Ok(ExitCode::FAILURE)
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

async fn export(audit: &Audit, since: Option<&str>, out: Option<PathBuf>) -> Result<ExitCode, StoreError> {
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
    let written = match &out {
        Some(path) => palisade::private_file::write_private(path, lines.as_bytes()),
        None => std::io::stdout().write_all(lines.as_bytes()),
    };
    written.map_err(|e| StoreError::Codec {
        namespace: "audit".into(),
        reason: format!("cannot write the export: {e}"),
    })?;
    Ok(ExitCode::SUCCESS)
}
