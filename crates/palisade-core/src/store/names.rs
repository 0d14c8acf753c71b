//! Which namespace names a store accepts.

use super::StoreError;

/// Checks a namespace name: 1-64 characters from `a-z0-9_-.`, not starting with `_` (reserved for the store's
/// own trees).
pub fn check_namespace(ns: &str) -> Result<(), StoreError> {
    let ok = (1..=64).contains(&ns.len())
        && !ns.starts_with('_')
        && ns.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.".contains(&b));
    if ok { Ok(()) } else { Err(StoreError::Namespace(ns.to_string())) }
}

#[cfg(test)]
mod tests {
    use super::check_namespace;

    #[test]
    fn namespaces_are_checked() {
        assert!(check_namespace("notes").is_ok());
        assert!(check_namespace("core.flows").is_ok());
        for bad in ["", "_keyring", "Notes", "a b", &"x".repeat(65)] {
            assert!(check_namespace(bad).is_err(), "{bad:?}");
        }
    }
}
