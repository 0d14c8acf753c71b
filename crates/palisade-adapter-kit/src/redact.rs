//! Keeping credentials out of every line the process writes: log output passes through [`redact`], which
//! masks anything shaped like a credential. The generic shapes (bearer credentials, `otpauth://` URIs,
//! `secret=`/`token=` parameters) are built in; each adapter registers the shapes of its platform's tokens
//! ([`register`]) and the exact tokens it was configured with ([`register_secret`]), so a library's error
//! that embeds a request URL cannot leak a token of any shape.

use std::borrow::Cow;
use std::sync::{PoisonError, RwLock};

use regex::Regex;

/// What a masked exact secret is replaced with.
pub const MARK: &str = "[redacted]";

struct Rules {
    /// Registered shapes, tried first (more specific than the generic ones).
    patterns: Vec<(Regex, &'static str)>,
    /// The generic shapes, tried last.
    generic: Vec<(Regex, &'static str)>,
    secrets: Vec<String>,
}

static RULES: RwLock<Option<Rules>> = RwLock::new(None);

/// The shapes every deployment masks, whatever its platforms.
const GENERIC: [(&str, &str); 4] = [
    (r"(?i)(bearer|bot)\s+[A-Za-z0-9._~+/=-]{16,}", "$1 [credential]"),
    (r"otpauth://\S+", "otpauth://[secret]"),
    (r"(?i)(secret|token|password|ticket)=([^&\s]+)", "$1=[redacted]"),
    (r#"(?i)token(["']?\s*[:=]\s*["']?)[A-Za-z0-9_.-]{16,}"#, "token$1[redacted]"),
];

fn with_rules<T>(f: impl FnOnce(&mut Rules) -> T) -> T {
    let mut guard = RULES.write().unwrap_or_else(PoisonError::into_inner);
    let rules = guard.get_or_insert_with(|| Rules {
        patterns: Vec::new(),
        generic: GENERIC.iter().filter_map(|(p, r)| Regex::new(p).ok().map(|re| (re, *r))).collect(),
        secrets: Vec::new(),
    });
    f(rules)
}

/// Masks every match of `pattern` (a regular expression) with `replacement` (which may use `$1`-style
/// groups) from now on. An invalid pattern is an error naming it.
pub fn register(pattern: &str, replacement: &'static str) -> Result<(), String> {
    let re = Regex::new(pattern).map_err(|e| format!("redaction pattern `{pattern}` is invalid: {e}"))?;
    with_rules(|rules| {
        if !rules.patterns.iter().any(|(r, _)| r.as_str() == re.as_str()) {
            rules.patterns.push((re, replacement));
        }
    });
    Ok(())
}

/// Masks `secret` itself (and its URL-encoded form) wherever it appears, whatever its shape. Secrets shorter
/// than 8 characters are ignored: masking them would mangle ordinary text.
pub fn register_secret(secret: &str) {
    if secret.len() < 8 {
        return;
    }
    with_rules(|rules| {
        for form in [secret.to_string(), secret.replace(':', "%3A")] {
            if !rules.secrets.contains(&form) {
                rules.secrets.push(form);
            }
        }
    });
}

/// `text` with every registered secret and credential shape masked.
pub fn redact(text: &str) -> Cow<'_, str> {
    let guard = RULES.read().unwrap_or_else(PoisonError::into_inner);
    let Some(rules) = guard.as_ref() else {
        drop(guard);
        with_rules(|_| ());
        return redact(text);
    };
    let mut out = Cow::Borrowed(text);
    for secret in &rules.secrets {
        if out.contains(secret.as_str()) {
            out = Cow::Owned(out.replace(secret.as_str(), MARK));
        }
    }
    for (re, with) in rules.patterns.iter().chain(&rules.generic) {
        if re.is_match(&out) {
            out = Cow::Owned(re.replace_all(&out, *with).into_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_shapes_and_registered_ones_are_masked() {
        assert_eq!(redact("see otpauth://totp/x?secret=ABC"), "see otpauth://[secret]");
        assert_eq!(redact("Authorization: Bearer abcdefghijklmnopqrstu"), "Authorization: Bearer [credential]");
        register(r"zz\d{6}", "[zz-token]").unwrap();
        assert_eq!(redact("got zz123456 back"), "got [zz-token] back");
        register_secret("odd:shaped-secret");
        assert_eq!(redact("/botodd%3Ashaped-secret/getMe"), "/bot[redacted]/getMe");
        assert!(register("(", "x").unwrap_err().contains("invalid"));
        assert_eq!(redact("plain text stays"), "plain text stays");
    }
}
