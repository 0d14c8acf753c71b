//! Checks for example bots: their configuration file builds with their registry, as `palisade config check`
//! would run it (plugins, adapters, strict keys), without opening the store.

use std::path::Path;

use palisade::Registry;
use palisade::bot::{AdapterChoice, Plan};
use palisade::config::Loader;

/// Loads `file` (relative to the directory tests run in: the crate's) and builds everything it enables with
/// `registry`.
///
/// # Panics
/// With every problem found, when the file does not load or does not build.
pub fn config_checks(file: &str, registry: &Registry) {
    let loaded = Loader::new(Path::new(file)).load().unwrap_or_else(|e| panic!("{e}"));
    if let Err(e) = Plan::new(&loaded, registry, AdapterChoice::Configured) {
        panic!("{e}");
    }
}
