//! Which chat platform an event came from or a reply goes to: an open set of names, so that a new adapter
//! needs no change here.
//!
//! A platform is a short lowercase name (`telegram`). The four shipped with Palisade are constants; an
//! adapter for another platform declares its own with [`Platform::new`] and registers it once (the runtime's
//! registry does that for every adapter it is given), after which identities like `matrix:@ann:example.org`
//! parse in configuration and commands. Names that were never registered are refused, so a typo in `[roles]`
//! is an error rather than a role nobody can hold.

use std::fmt;
use std::str::FromStr;
use std::sync::{PoisonError, RwLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A chat platform, named by its lowercase name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform(&'static str);

/// Most platforms one process knows: a bound on what parsing can register.
const MAX_KNOWN: usize = 64;

static KNOWN: RwLock<Vec<&'static str>> = RwLock::new(Vec::new());

impl Platform {
    /// The terminal chat built into the runtime (`palisade chat`).
    pub const CONSOLE: Platform = Platform("console");
    /// Telegram Bot API.
    pub const TELEGRAM: Platform = Platform("telegram");
    /// Discord gateway or interactions endpoint.
    pub const DISCORD: Platform = Platform("discord");
    /// Slack Socket Mode or Events API.
    pub const SLACK: Platform = Platform("slack");
    const BUILT_IN: [Platform; 4] = [Self::CONSOLE, Self::TELEGRAM, Self::DISCORD, Self::SLACK];

    /// A platform called `name`: 1–32 characters from `a-z`, `0-9`, `_` and `-`. Checked when registered.
    pub const fn new(name: &'static str) -> Self {
        Self(name)
    }

    /// Makes this platform's name parse (in `platform:id` identities and persisted events). Refuses names
    /// that are not 1–32 characters from `a-z0-9_-`, and more than 64 platforms in one process.
    pub fn register(self) -> Result<Self, String> {
        let name = self.0;
        let valid = (1..=32).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !valid {
            return Err(format!("platform name `{name}` must be 1-32 characters from a-z, 0-9, `_` and `-`"));
        }
        let mut known = KNOWN.write().unwrap_or_else(PoisonError::into_inner);
        if Self::BUILT_IN.contains(&self) || known.contains(&name) {
            return Ok(self);
        }
        if known.len() >= MAX_KNOWN {
            return Err(format!("cannot register platform `{name}`: {MAX_KNOWN} platforms are known already"));
        }
        known.push(name);
        Ok(self)
    }

    /// Every platform that parses: the four built in, then the registered ones in registration order.
    pub fn known() -> Vec<Platform> {
        let known = KNOWN.read().unwrap_or_else(PoisonError::into_inner);
        Self::BUILT_IN.into_iter().chain(known.iter().map(|n| Platform(n))).collect()
    }

    /// The lowercase name used in configuration and identities (`telegram:123`).
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl FromStr for Platform {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let known = Self::known();
        known.iter().copied().find(|p| p.0 == s).ok_or_else(|| {
            let names: Vec<&str> = known.iter().map(|p| p.0).collect();
            format!("unknown platform `{s}` (expected one of {})", names.join(", "))
        })
    }
}

impl Serialize for Platform {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for Platform {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<str>::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::Platform;

    #[test]
    fn built_ins_parse_and_others_after_registration() {
        assert_eq!("slack".parse::<Platform>(), Ok(Platform::SLACK));
        assert!("matrix".parse::<Platform>().unwrap_err().contains("unknown platform `matrix`"));
        const MATRIX: Platform = Platform::new("matrix");
        assert_eq!(MATRIX.register(), Ok(MATRIX));
        assert_eq!("matrix".parse::<Platform>(), Ok(MATRIX));
        assert!(Platform::new("Bad Name").register().is_err());
        assert_eq!(serde_json::to_string(&MATRIX).ok().as_deref(), Some("\"matrix\""));
    }
}
