//! What step-up verification approves: a scope (`bank.transfer`), and for single-use scopes the exact details
//! of one execution (amount, recipient) — "dynamic linking": a code approves those details and nothing else.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// What a step-up challenge asks the user to approve.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// The scope (`plugin.action`).
    pub scope: String,
    /// What the user approves, in the plugin's words (`("amount", "€50.00")`, `("to", "Bob")`); shown in the
    /// prompt. Empty for scopes approved as a whole.
    #[serde(default)]
    pub details: Vec<(String, String)>,
    /// The approval covers exactly one execution with exactly these details; otherwise it is a grant for the
    /// scope in that conversation for `[stepup] grant_ttl`.
    #[serde(default)]
    pub single_use: bool,
}

impl Approval {
    /// An approval of `scope` as a whole (a grant for `grant_ttl`).
    pub fn scope(scope: impl Into<String>) -> Self {
        Self { scope: scope.into(), details: Vec::new(), single_use: false }
    }

    /// An approval of exactly one execution of `scope` with `details`.
    pub fn once(scope: impl Into<String>, details: &[(&str, String)]) -> Self {
        let details = details.iter().map(|(k, v)| ((*k).to_string(), v.clone())).collect();
        Self { scope: scope.into(), details, single_use: true }
    }

    /// The grant that satisfies this approval: the scope itself, or for a single-use approval a token that
    /// names the scope and every detail (so a changed amount is a different token).
    pub fn grant(&self) -> String {
        if !self.single_use {
            return self.scope.clone();
        }
        // Length-prefixed, so no choice of detail text can make two different approvals collide.
        let mut token = format!("once:{}:{}", self.scope.len(), self.scope);
        for (k, v) in &self.details {
            token.push_str(&format!(";{}:{k}={}:{v}", k.len(), v.len()));
        }
        token
    }

    /// Whether `grants` (the grants of the conversation, plus a single-use grant for the run that was just
    /// verified) satisfy this approval.
    pub fn is_granted(&self, grants: &BTreeSet<String>) -> bool {
        grants.contains(&self.grant())
    }

    /// The details as one line for a prompt (`amount: €50.00, to: Bob`); empty without details.
    pub fn describe_details(&self) -> String {
        self.details.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", ")
    }
}

impl std::fmt::Display for Approval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.details.is_empty() {
            f.write_str(&self.scope)
        } else {
            write!(f, "{} ({})", self.scope, self.describe_details())
        }
    }
}

/// The operator's step-up policy for scopes, as handlers see it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScopePolicy {
    /// Scopes that need verification besides commands declared sensitive (`[stepup] require_for`).
    pub require_for: BTreeSet<String>,
    /// Scopes whose approval covers one execution only (`[stepup] single_use`).
    pub single_use: BTreeSet<String>,
}

impl ScopePolicy {
    /// How `scope` is approved under this policy, with no details.
    pub fn approval(&self, scope: &str) -> Approval {
        if self.single_use.contains(scope) { Approval::once(scope, &[]) } else { Approval::scope(scope) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_use_grant_binds_every_detail() {
        let a = Approval::once("bank.transfer", &[("amount", "5".into()), ("to", "bob".into())]);
        let b = Approval::once("bank.transfer", &[("amount", "50".into()), ("to", "bob".into())]);
        assert_ne!(a.grant(), b.grant());
        assert_ne!(a.grant(), Approval::scope("bank.transfer").grant());
        // Separators inside detail text cannot forge another approval's token.
        let c = Approval::once("bank.transfer", &[("amount", "5;3:to=3:bob".into())]);
        assert_ne!(a.grant(), c.grant());
        let granted: BTreeSet<String> = [a.grant()].into();
        assert!(a.is_granted(&granted) && !b.is_granted(&granted));
        assert_eq!(a.to_string(), "bank.transfer (amount: 5, to: bob)");
    }

    #[test]
    fn the_policy_makes_listed_scopes_single_use() {
        let policy = ScopePolicy { single_use: ["notes.delete".to_string()].into(), ..ScopePolicy::default() };
        assert!(policy.approval("notes.delete").single_use);
        assert!(!policy.approval("notes.export").single_use);
    }
}
