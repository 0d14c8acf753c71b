//! Everything wrong with one configuration file.

use std::fmt;
use std::path::PathBuf;

use palisade_core::config::Problem;

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
