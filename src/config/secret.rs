//! A secret configuration value (token, key) that comes from the environment or a file, never printed.

use std::fmt;

use serde::{Deserialize, Deserializer};
use zeroize::Zeroizing;

/// A secret. Written in TOML as `{ env = "VAR" }`, `{ file = "/run/secrets/x" }`, or (discouraged, with a
/// warning at load) an inline string. Its `Debug` never shows the value; the memory is wiped on drop.
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

#[derive(Deserialize)]
#[serde(untagged)]
enum Raw {
    Inline(String),
    Source(Source),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Source {
    env: Option<String>,
    file: Option<String>,
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let raw = Raw::deserialize(d)
            .map_err(|_| D::Error::custom("a secret must be `{ env = \"VAR\" }`, `{ file = \"PATH\" }` or a string"))?;
        match raw {
            Raw::Inline(s) if s.is_empty() => Err(D::Error::custom("the secret is empty")),
            Raw::Inline(s) => Ok(Self::new(s)),
            Raw::Source(Source {
                env: Some(var),
                file: None,
            }) => match std::env::var(&var) {
                Ok(v) if !v.is_empty() => Ok(Self::new(v)),
                _ => Err(D::Error::custom(format!(
                    "environment variable `{var}` is not set or empty; export it before starting palisade"
                ))),
            },
            Raw::Source(Source {
                file: Some(path),
                env: None,
            }) => match std::fs::read_to_string(&path) {
                Ok(v) if !v.trim().is_empty() => Ok(Self::new(v.trim_end_matches(['\n', '\r']).to_string())),
                Ok(_) => Err(D::Error::custom(format!("secret file `{path}` is empty"))),
                Err(e) => Err(D::Error::custom(format!("cannot read secret file `{path}`: {e}"))),
            },
            Raw::Source(_) => Err(D::Error::custom("give exactly one of `env` or `file` for a secret")),
        }
    }
}

/// True for key names that hold secrets by convention; used to warn about inline values.
pub(crate) fn is_secret_key(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["token", "secret", "password", "master_key", "api_key", "private_key"]
        .iter()
        .any(|s| name.ends_with(s))
}
