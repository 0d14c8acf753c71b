//! The machine-readable export of everything stored about one user (GDPR Art. 15 and 20).

use serde_json::{Value, json};

use crate::audit::Audit;
use crate::config::PrivacySettings;
use crate::event::UserRef;
use crate::plugin::DataManifest;
use crate::store::{Store, StoreError, Subject};

fn time(ms: u64) -> String {
    humantime::format_rfc3339_millis(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms)).to_string()
}

/// JSON of every record about `user` in every declared namespace, their consents, their rights requests and
/// the audit entries about them. Secrets are summarised, never exported: the TOTP secret and recovery code
/// hashes stay out; the export says two-factor is on and how many recovery codes are left.
pub async fn export(
    store: &dyn Store,
    manifests: &[(String, DataManifest)],
    audit: &Audit,
    user: &UserRef,
    settings: &PrivacySettings,
) -> Result<Value, StoreError> {
    let subject = Subject::user(user);
    let mut data = serde_json::Map::new();
    for (owner, manifest) in manifests {
        for ns in &manifest.namespaces {
            let records: Vec<Value> = store
                .list(ns.name, Some(&subject))
                .await?
                .into_iter()
                .map(|r| {
                    let value = serde_json::from_slice::<Value>(&r.value).unwrap_or(Value::Null);
                    let value = if ns.name == "core.stepup" { summarise_stepup(&value) } else { value };
                    json!({ "id": String::from_utf8_lossy(&r.id), "written_at": time(r.written_at_ms), "value": value })
                })
                .collect();
            data.insert(
                ns.name.to_string(),
                json!({
                    "kept_by": owner,
                    "what": ns.description,
                    "purpose": ns.purpose,
                    "legal_basis": ns.basis.describe(),
                    "retention_days": ns.retention.as_secs() / 86_400,
                    "records": records,
                }),
            );
        }
    }
    let pseudonym = audit.pseudonym(user).await?;
    let audit_entries: Vec<Value> = audit
        .entries_since(0)
        .await?
        .into_iter()
        .filter(|e| e.actor.as_deref() == Some(pseudonym.as_str()))
        .map(|e| json!({ "time": time(e.at_ms), "event": e.event, "outcome": e.outcome }))
        .collect();
    let blocked = crate::dispatch::Access::is_blocked_in(store, user).await?;
    // The accounts on other platforms linked with this one (the data above covers all of them).
    let linked: Vec<Value> = data
        .get(crate::identity::NAMESPACE)
        .and_then(|ns| ns["records"].as_array())
        .and_then(|records| records.first())
        .and_then(|r| r["value"]["identities"].as_array().cloned())
        .map(|ids| {
            ids.into_iter()
                .filter_map(|v| serde_json::from_value::<UserRef>(v).ok())
                .map(|u| Value::String(u.to_string()))
                .collect()
        })
        .unwrap_or_else(|| vec![Value::String(user.to_string())]);
    Ok(json!({
        "subject": user.to_string(),
        "linked_identities": linked,
        "controller": settings.controller,
        "contact": settings.contact,
        "data": data,
        "blocked": {
            "blocked_by_staff": blocked,
            "note": "a block is kept apart from your data and stays when your data is erased (legitimate interest in stopping abuse)",
        },
        "audit_trail_about_you": audit_entries,
    }))
}

fn summarise_stepup(v: &Value) -> Value {
    let left = v["recovery"].as_array().map_or(0, |a| a.iter().filter(|c| c["used_at_ms"].is_null()).count());
    json!({
        "two_factor_enabled": v["active"],
        "enrolled_at": v["enrolled_at_ms"].as_u64().map(time),
        "recovery_codes_left": left,
        "note": "the secret and recovery code hashes are security data and are not exported",
    })
}
