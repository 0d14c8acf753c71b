//! One `[plugins.<name>]` or `[adapters.<name>]` table, parsed by the plugin or adapter that owns it.

use serde::de::DeserializeOwned;

use super::Problem;

/// A plugin's or adapter's own settings table. `enabled` is read by the framework; the rest belongs to the
/// owner, which parses it with [`Section::parse`] and gets precise errors for unknown keys and wrong types.
#[derive(Clone, Debug)]
pub struct Section {
    path: String,
    enabled: bool,
    value: serde_json::Value,
}

impl Section {
    /// A section at key path `path` (e.g. `plugins.notes`) with the raw table `value`.
    pub fn new(path: impl Into<String>, value: serde_json::Value) -> Result<Self, Problem> {
        let path = path.into();
        let mut value = match value {
            serde_json::Value::Object(map) => serde_json::Value::Object(map),
            serde_json::Value::Null => serde_json::Value::Object(Default::default()),
            other => {
                return Err(Problem::at(path, format!("must be a table, found {}", kind(&other))));
            }
        };
        let enabled = match value.as_object_mut().and_then(|m| m.remove("enabled")) {
            None => true,
            Some(serde_json::Value::Bool(b)) => b,
            Some(serde_json::Value::String(s)) if s == "true" || s == "false" => s == "true",
            Some(other) => {
                return Err(Problem::at(
                    format!("{path}.enabled"),
                    format!("must be true or false, found {}", kind(&other)),
                ));
            }
        };
        Ok(Self { path, enabled, value })
    }

    /// An empty, enabled section (for building bots in code).
    pub fn empty(path: impl Into<String>) -> Self {
        Self { path: path.into(), enabled: true, value: serde_json::Value::Object(Default::default()) }
    }

    /// The key path of the table.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Whether the table says `enabled = true` (the default when the table exists).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// For owners that take no settings: every key besides `enabled` is reported as unknown.
    pub fn no_settings(&self) -> Result<(), Vec<Problem>> {
        let keys = self.value.as_object().map(|m| m.keys().cloned().collect::<Vec<_>>()).unwrap_or_default();
        if keys.is_empty() {
            return Ok(());
        }
        Err(keys
            .into_iter()
            .map(|k| Problem::at(format!("{}.{k}", self.path), "unknown key (this table takes only `enabled`)"))
            .collect())
    }

    /// Parses the table (without `enabled`) as `T`. Every unknown key is reported, as is the first value of
    /// the wrong type, each with its full key path.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, Vec<Problem>> {
        super::strict::strict(&self.value, &self.path)
    }
}

/// How a JSON value is described in messages ("a string", "a table", …).
pub fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "nothing",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "a table",
    }
}
