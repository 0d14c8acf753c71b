//! Configuration problems, each naming its file and key.

use std::fmt;
use std::path::PathBuf;

/// One thing wrong with the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key path (`dispatch.max_concurrency`), when the problem is tied to a key.
    pub key: Option<String>,
    /// What is wrong and what to do.
    pub message: String,
}

impl Problem {
    /// A problem at `key`.
    pub fn at(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self { key: Some(key.into()), message: message.into() }
    }

    /// A problem with the file as a whole.
    pub fn file(message: impl Into<String>) -> Self {
        Self { key: None, message: message.into() }
    }
}

/// Everything wrong with one configuration file (all problems found, not only the first).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// The problems, in the order found.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        writeln!(f, "{} has {n} problem{}:", self.file.display(), if n == 1 { "" } else { "s" })?;
        for p in &self.problems {
            match &p.key {
                Some(key) => writeln!(f, "  {}: `{key}`: {}", self.file.display(), p.message)?,
                None => writeln!(f, "  {}: {}", self.file.display(), p.message)?,
            }
        }
        write!(f, "Every key is documented in config/palisade.example.toml.")
    }
}
