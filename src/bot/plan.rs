//! What a configuration asks for, built and checked without starting anything.

use std::sync::Arc;

use crate::adapter::Adapter;
use crate::config::{ConfigError, Loaded, Problem, Section, Settings};
use crate::dispatch::Router;
use crate::plugin::{Plugin, Registry};

/// Which adapters to run.
#[derive(Clone, Debug, Default)]
pub enum AdapterChoice {
    /// Every enabled `[adapters.*]` table (`palisade run`).
    #[default]
    Configured,
    /// Only the console, optionally as another user (`palisade chat --as NAME`).
    ConsoleOnly(Option<String>),
}

/// The plugins and adapters a configuration asks for, built and checked but not started.
pub struct Plan {
    /// Enabled plugins.
    pub plugins: Vec<Arc<dyn Plugin>>,
    /// Adapters to run.
    pub adapters: Vec<Box<dyn Adapter>>,
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plugins: Vec<_> = self.plugins.iter().map(|p| p.name()).collect();
        let adapters: Vec<_> = self.adapters.iter().map(|a| a.platform()).collect();
        f.debug_struct("Plan").field("plugins", &plugins).field("adapters", &adapters).finish()
    }
}

impl Plan {
    /// Builds everything `loaded` enables and reports every problem found (unknown plugins or adapters,
    /// bad tables, no adapter at all, clashing commands) without opening the store or any connection.
    pub fn new(loaded: &Loaded, registry: &Registry, choice: AdapterChoice) -> Result<Self, ConfigError> {
        let settings = &loaded.settings;
        let mut problems = Vec::new();
        let plugins = registry.build_plugins(settings).unwrap_or_else(|mut p| {
            problems.append(&mut p);
            Vec::new()
        });
        let adapters = match choice {
            AdapterChoice::Configured => registry.build_adapters(settings, None),
            AdapterChoice::ConsoleOnly(user) => console_only(settings, user),
        }
        .unwrap_or_else(|mut p| {
            problems.append(&mut p);
            Vec::new()
        });
        if adapters.is_empty() && problems.is_empty() {
            problems
                .push(Problem::at("adapters", "no adapter is enabled; add `[adapters.console]` or a platform table"));
        }
        let key_file = settings.store.master_key_file.as_ref();
        let created_on_start = settings.store.create_key_file && key_file.is_some_and(|f| !f.exists());
        if !created_on_start && let Err(e) = crate::store::load_master_key(&settings.store) {
            problems.push(Problem::at("store", e.to_string()));
        }
        let scoped = [("require_for", &settings.stepup.require_for), ("single_use", &settings.stepup.single_use)];
        for (key, scopes) in scoped {
            for (i, scope) in scopes.iter().enumerate() {
                let plugin = scope.split('.').next().unwrap_or_default();
                if plugin != "twofactor" && !plugins.iter().any(|p| p.name() == plugin) {
                    let names: Vec<_> = plugins.iter().map(|p| p.name()).collect();
                    let msg = format!(
                        "`{scope}` names no enabled plugin (enabled: {}); a typo here protects nothing",
                        names.join(", ")
                    );
                    problems.push(Problem::at(format!("stepup.{key}[{i}]"), msg));
                }
            }
        }
        problems.append(&mut check_integrations(settings, &plugins));
        problems.append(&mut check_listeners(settings, &adapters));
        for p in &plugins {
            if let Some(reason) = reserved_name(p.name()) {
                problems.push(Problem::at(format!("plugins.{}", p.name()), reason));
            }
            if p.commands().iter().any(|c| c.name == "2fa") {
                problems.push(Problem::at(format!("plugins.{}", p.name()), "declares /2fa, which is built in"));
            }
        }
        if let Err(e) = Router::command_table(&plugins) {
            problems.push(Problem::at("plugins", e));
        }
        if problems.is_empty() {
            Ok(Self { plugins, adapters })
        } else {
            Err(ConfigError { file: loaded.file.clone(), problems })
        }
    }
}

fn console_only(settings: &Settings, user: Option<String>) -> Result<Vec<Box<dyn Adapter>>, Vec<Problem>> {
    let table = settings.adapters.get("console").cloned().unwrap_or_default();
    let section = Section::new("adapters.console", table).map_err(|p| vec![p])?;
    Ok(vec![Box::new(crate::console::from_section(&section, settings, user)?)])
}

/// No two listeners (the adapters' and `[monitoring] listen`) may share an address: the second would fail
/// to bind at start with a message that points at another process.
fn check_listeners(settings: &Settings, adapters: &[Box<dyn Adapter>]) -> Vec<Problem> {
    let mut listeners: Vec<(String, std::net::SocketAddr)> = adapters.iter().flat_map(|a| a.listens()).collect();
    if let Some(addr) = settings.monitoring.listen {
        listeners.push(("monitoring.listen".into(), addr));
    }
    let mut problems = Vec::new();
    for (i, (key, addr)) in listeners.iter().enumerate() {
        let clash = listeners[..i].iter().find(|(_, other)| {
            addr.port() != 0
                && other.port() == addr.port()
                && (other.ip() == addr.ip() || other.ip().is_unspecified() || addr.ip().is_unspecified())
        });
        if let Some((first, other)) = clash {
            let msg = format!("{addr} is already taken by `{first}` ({other}); give each listener its own port");
            problems.push(Problem::at(key.clone(), msg));
        }
    }
    problems
}

/// Every `[integrations.<plugin>]` table must name an enabled plugin, and allow only hosts it declares.
fn check_integrations(settings: &Settings, plugins: &[Arc<dyn Plugin>]) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (name, table) in &settings.integrations {
        let Some(plugin) = plugins.iter().find(|p| p.name() == name) else {
            problems.push(Problem::at(format!("integrations.{name}"), format!("no enabled plugin named `{name}`")));
            continue;
        };
        let declared = plugin.integrations();
        for (i, host) in table.allow.iter().enumerate() {
            if !declared.contains(&host.as_str()) {
                let msg = format!("plugin `{name}` does not declare `{host}` (it declares: {})", declared.join(", "));
                problems.push(Problem::at(format!("integrations.{name}.allow[{i}]"), msg));
            }
        }
        if let Some(ca) = &table.ca_file
            && std::fs::read(ca).is_err()
        {
            problems.push(Problem::at(format!("integrations.{name}.ca_file"), format!("cannot read {}", ca.display())));
        }
    }
    problems
}

/// The HTTP clients of the plugins that have allowed integrations.
pub fn http_clients(
    settings: &Settings,
    audit: &Arc<crate::audit::Audit>,
) -> Result<std::collections::HashMap<String, Arc<dyn crate::services::Http>>, Problem> {
    let mut clients = std::collections::HashMap::new();
    for (name, t) in &settings.integrations {
        let ca = t
            .ca_file
            .as_ref()
            .map(std::fs::read)
            .transpose()
            .map_err(|e| Problem::at(format!("integrations.{name}.ca_file"), e.to_string()))?;
        let allowed = t.allow.iter().map(|h| h.to_ascii_lowercase()).collect();
        let client = crate::integration::HttpClient::new(
            name,
            allowed,
            t.timeout,
            t.max_response_bytes,
            ca.as_deref(),
            t.webhook_secret.clone(),
            Some(audit.clone()),
        )
        .map_err(|e| Problem::at(format!("integrations.{name}"), e))?;
        clients.insert(name.clone(), Arc::new(client) as Arc<dyn crate::services::Http>);
    }
    Ok(clients)
}

/// Why a plugin may not be called `name`: a plugin's name is its store namespace, and these belong to the
/// runtime's own records (flows, two-factor state, the audit trail, rights requests).
fn reserved_name(name: &str) -> Option<String> {
    let taken = ["core", "twofactor", "privacy", "admin"];
    let shadows = taken.contains(&name) || name.starts_with("core.") || name.starts_with("core_");
    shadows.then(|| {
        format!("the name `{name}` is reserved for the runtime's own records ({}); rename the plugin", taken.join(", "))
    })
}
