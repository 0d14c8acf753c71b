//! A secret configuration value (token, key) that comes from the environment or a file, never printed.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use zeroize::Zeroizing;

/// A secret. Written in TOML as `{ env = "VAR" }`, `{ file = "/run/secrets/x" }` (the file must be readable
/// by its owner only, mode 0600 or 0400), or (discouraged, with a warning at load) an inline string. Its `Debug` never shows the value; the memory is wiped on drop.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a value obtained elsewhere.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The secret itself. Pass it on; do not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SecretVisitor)
    }
}

struct SecretVisitor;

impl<'de> Visitor<'de> for SecretVisitor {
    type Value = Secret;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a secret: `{ env = \"VAR\" }`, `{ file = \"PATH\" }` or a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Secret, E> {
        if v.is_empty() { Err(E::custom("the secret is empty")) } else { Ok(Secret::new(v)) }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Secret, E> {
        // An all-digit value from the environment arrives as a number.
        Ok(Secret::new(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Secret, E> {
        Ok(Secret::new(v.to_string()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Secret, A::Error> {
        let mut source: Option<(String, String)> = None;
        while let Some(key) = map.next_key::<String>()? {
            let value: String = map.next_value()?;
            if key != "env" && key != "file" {
                return Err(de::Error::custom(format!("unknown key `{key}` in a secret; use `env` or `file`")));
            }
            if source.replace((key, value)).is_some() {
                return Err(de::Error::custom("give exactly one of `env` or `file` for a secret"));
            }
        }
        match source {
            Some((kind, var)) if kind == "env" => from_env(&var),
            Some((_, path)) => from_file(&path),
            None => Err(de::Error::custom("give one of `env` or `file` for a secret")),
        }
    }
}

fn from_env<E: de::Error>(var: &str) -> Result<Secret, E> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Ok(Secret::new(v)),
        _ => Err(E::custom(format!(
            "environment variable `{var}` is not set or empty; export it before starting palisade"
        ))),
    }
}

fn from_file<E: de::Error>(path: &str) -> Result<Secret, E> {
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(path) {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(E::custom(format!(
                "secret file `{path}` is accessible by group or others (mode {mode:03o}); run `chmod 600 {path}`"
            )));
        }
    }
    match std::fs::read_to_string(path) {
        Ok(v) if !v.trim().is_empty() => Ok(Secret::new(v.trim_end_matches(['\n', '\r']).to_string())),
        Ok(_) => Err(E::custom(format!("secret file `{path}` is empty"))),
        Err(e) => Err(E::custom(format!("cannot read secret file `{path}`: {e}"))),
    }
}

/// True for key names that hold secrets by convention; used to warn about inline values.
pub fn is_secret_key(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["token", "secret", "password", "master_key", "api_key", "private_key"].iter().any(|s| name.ends_with(s))
}
