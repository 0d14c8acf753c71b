//! Strict deserialisation shared by the core settings and every plugin's or adapter's table: every unknown
//! key is reported, and the first value of the wrong type, each with its full key path.

use serde::de::{Deserialize, Deserializer};

use super::Problem;

/// Deserialises `T` from `de`, whose keys sit under `prefix` (empty for the file's root).
pub fn strict<'de, T, D>(de: D, prefix: &str) -> Result<T, Vec<Problem>>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
    D::Error: std::fmt::Display,
{
    let join = |at: &str| match (prefix, at) {
        ("", at) => at.to_string(),
        (prefix, "." | "") => prefix.to_string(),
        (prefix, at) => format!("{prefix}.{at}"),
    };
    let mut unknown = Vec::new();
    let mut track = |p: serde_ignored::Path<'_>| unknown.push(p.to_string());
    let result: Result<T, _> = serde_path_to_error::deserialize(serde_ignored::Deserializer::new(de, &mut track));
    let mut problems: Vec<Problem> =
        unknown.iter().map(|k| Problem::at(join(k), "unknown key (check its spelling)")).collect();
    match result {
        Ok(v) if problems.is_empty() => Ok(v),
        Ok(_) => Err(problems),
        Err(e) => {
            let key = join(&e.path().to_string());
            // The config crate appends ` for key "x"`; the key is already reported separately.
            let message = e.into_inner().to_string();
            let message = message.split(" for key ").next().unwrap_or(&message).to_string();
            problems.push(Problem::at(key, message));
            Err(problems)
        }
    }
}
