//! The plugins and adapters compiled into a binary, and how each is built from its config table.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::adapter::Adapter;
use crate::config::{Problem, Section, Settings};
use crate::plugin::Plugin;

/// Builds a plugin from its `[plugins.<name>]` table.
pub type PluginFactory = Arc<dyn Fn(&Section) -> Result<Arc<dyn Plugin>, Vec<Problem>> + Send + Sync>;

/// Builds an adapter from its `[adapters.<name>]` table and the whole configuration (built-in adapters use
/// the configuration: the console keeps images in the data directory).
pub type AdapterFactory = Arc<dyn Fn(&Section, &Settings) -> Result<Box<dyn Adapter>, Vec<Problem>> + Send + Sync>;

/// What this binary can run. Configuration picks from it; a table naming something not registered here is
/// an error that lists what is available.
#[derive(Clone, Default)]
pub struct Registry {
    plugins: BTreeMap<&'static str, PluginFactory>,
    adapters: BTreeMap<&'static str, AdapterFactory>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("plugins", &self.plugins.keys().collect::<Vec<_>>())
            .field("adapters", &self.adapters.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Registry {
    /// A registry with the built-in console adapter and no plugins.
    pub fn new() -> Self {
        let mut registry = Self::default();
        registry.adapters.insert("console", Arc::new(crate::console::factory));
        registry
    }

    /// Registers plugin `name`, built by `build` from its table.
    #[must_use]
    pub fn plugin<P, F>(mut self, name: &'static str, build: F) -> Self
    where
        P: Plugin,
        F: Fn(&Section) -> Result<P, Vec<Problem>> + Send + Sync + 'static,
    {
        self.plugins.insert(name, Arc::new(move |s| build(s).map(|p| Arc::new(p) as Arc<dyn Plugin>)));
        self
    }

    /// Registers adapter `name`, built by `build` from its `[adapters.<name>]` table. The name is also the
    /// platform's: identities like `name:id` parse from now on.
    ///
    /// # Panics
    /// When `name` is not a valid platform name (1-32 characters from `a-z0-9_-`): a programming error in
    /// the binary, found the first time it runs.
    #[must_use]
    pub fn adapter<F>(mut self, name: &'static str, build: F) -> Self
    where
        F: Fn(&Section) -> Result<Box<dyn Adapter>, Vec<Problem>> + Send + Sync + 'static,
    {
        #[allow(clippy::expect_used)]
        crate::Platform::new(name).register().expect("an adapter name is a valid platform name");
        self.adapters.insert(name, Arc::new(move |section, _| build(section)));
        self
    }

    /// Names of the registered plugins.
    pub fn plugin_names(&self) -> Vec<&'static str> {
        self.plugins.keys().copied().collect()
    }

    /// Builds every plugin whose table is present and enabled, collecting all problems.
    pub fn build_plugins(&self, settings: &Settings) -> Result<Vec<Arc<dyn Plugin>>, Vec<Problem>> {
        build_all(&settings.plugins, "plugins", &self.plugins, |f, s| {
            let plugin = f(s)?;
            let registered = s.path().trim_start_matches("plugins.");
            if plugin.name() != registered {
                let name = plugin.name();
                let msg = format!("registered as `{registered}` but the plugin calls itself `{name}`; use one name");
                return Err(vec![Problem::at(s.path(), msg)]);
            }
            Ok(plugin)
        })
    }

    /// Builds every adapter whose table is present and enabled (or only `only`, when given).
    pub fn build_adapters(
        &self,
        settings: &Settings,
        only: Option<&str>,
    ) -> Result<Vec<Box<dyn Adapter>>, Vec<Problem>> {
        let tables = settings.adapters.iter().filter(|(name, _)| only.is_none_or(|o| o == name.as_str()));
        let tables: BTreeMap<String, serde_json::Value> = tables.map(|(k, v)| (k.clone(), v.clone())).collect();
        build_all(&tables, "adapters", &self.adapters, |f, s| f(s, settings))
    }
}

fn build_all<F: ?Sized, T>(
    tables: &BTreeMap<String, serde_json::Value>,
    kind: &str,
    factories: &BTreeMap<&'static str, Arc<F>>,
    build: impl Fn(&F, &Section) -> Result<T, Vec<Problem>>,
) -> Result<Vec<T>, Vec<Problem>> {
    let mut built = Vec::new();
    let mut problems = Vec::new();
    for (name, table) in tables {
        let path = format!("{kind}.{name}");
        let Some(factory) = factories.get(name.as_str()) else {
            let known: Vec<_> = factories.keys().copied().collect();
            problems.push(Problem::at(
                path,
                format!("no {kind} named `{name}` in this binary (available: {})", known.join(", ")),
            ));
            continue;
        };
        match Section::new(path, table.clone()) {
            Ok(section) if !section.enabled() => {}
            Ok(section) => match build(factory, &section) {
                Ok(t) => built.push(t),
                Err(mut p) => problems.append(&mut p),
            },
            Err(p) => problems.push(p),
        }
    }
    if problems.is_empty() { Ok(built) } else { Err(problems) }
}
