//! Reading, merging and checking the configuration.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use super::{ConfigError, Problem, Settings};
use crate::event::UserRef;
use palisade_core::config::is_secret_key;

/// Namespaces whose records must outlive any retention period an operator might set, and why.
const KEPT_AS_RECORDS: [(&str, &str); 3] = [
    ("core.audit", "the audit trail must stay complete, or `palisade audit verify` reports it truncated"),
    ("core.privacy.requests", "the register proves that rights requests were answered within their deadlines"),
    ("core.stepup", "expiring two-factor enrolments would silently turn verification off"),
];

/// A checked configuration.
#[derive(Clone)]
pub struct Loaded {
    /// The file it came from.
    pub file: PathBuf,
    /// The settings.
    pub settings: Settings,
    /// Things that work but should be fixed (inline secrets).
    pub warnings: Vec<String>,
    /// The file's text as read (its hash is audited at start).
    pub text: String,
    /// Every key's value after environment overrides, by dotted path (`ratelimit.per_user.count`): what a
    /// reload compares to name the settings that changed. Holds secrets: never log or show the values.
    pub values: BTreeMap<String, String>,
}

impl std::fmt::Debug for Loaded {
    /// Without the file's text and values, which may hold secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("file", &self.file)
            .field("settings", &self.settings)
            .field("warnings", &self.warnings)
            .finish_non_exhaustive()
    }
}

/// Loads a configuration file with environment overrides.
#[derive(Clone, Debug)]
pub struct Loader {
    file: PathBuf,
    env: Option<HashMap<String, String>>,
}

impl Loader {
    /// Loads `file`, with overrides from the process environment.
    pub fn new(file: impl Into<PathBuf>) -> Self {
        Self { file: file.into(), env: None }
    }

    /// Uses `env` instead of the process environment for overrides (tests).
    #[must_use]
    pub fn with_env(mut self, env: HashMap<String, String>) -> Self {
        self.env = Some(env);
        self
    }

    /// Adds the environment variable to problems whose key was set from the environment.
    fn blame_env(&self, problems: Vec<Problem>) -> Vec<Problem> {
        let set = |name: &str| match &self.env {
            Some(env) => env.contains_key(name),
            None => std::env::var_os(name).is_some(),
        };
        problems
            .into_iter()
            .map(|mut p| {
                if let Some(key) = &p.key {
                    let name = env_name(key);
                    if set(&name) {
                        p.message = format!("{} (the value comes from the environment variable {name})", p.message);
                    }
                }
                p
            })
            .collect()
    }

    /// Reads, merges and checks. Every problem found is reported, each with file and key.
    pub fn load(&self) -> Result<Loaded, ConfigError> {
        let fail = |problems| ConfigError { file: self.file.clone(), problems };
        let text = std::fs::read_to_string(&self.file).map_err(|e| {
            fail(vec![Problem::file(format!(
                "cannot read the file: {e} (pass --config with the path of your TOML file)"
            ))])
        })?;
        let raw: toml::Table =
            toml::from_str(&text).map_err(|e| fail(vec![Problem::file(format!("invalid TOML: {e}"))]))?;
        let mut warnings = Vec::new();
        inline_secrets(&toml::Value::Table(raw), "", &mut warnings);
        let merged = config::Config::builder()
            .add_source(config::File::from_str(&text, config::FileFormat::Toml))
            .add_source(
                config::Environment::with_prefix("PALISADE").separator("__").try_parsing(true).source(self.env.clone()),
            )
            .build()
            .map_err(|e| fail(vec![Problem::file(e.to_string())]))?;
        let values = flatten(&merged);
        let mut settings = deserialize(merged).map_err(|problems| fail(self.blame_env(problems)))?;
        self.read_texts_file(&mut settings.texts).map_err(&fail)?;
        let problems = validate(&settings);
        if !problems.is_empty() {
            return Err(fail(problems));
        }
        Ok(Loaded { file: self.file.clone(), settings, warnings, text, values })
    }
}

impl Loader {
    /// Merges the `[texts] file` (relative to the configuration file; `[texts.<lang>]` tables as in the
    /// configuration, e.g. the output of `palisade config texts`) under the configuration's own tables, which
    /// win.
    fn read_texts_file(&self, texts: &mut super::TextsSettings) -> Result<(), Vec<Problem>> {
        let Some(file) = &texts.file else { return Ok(()) };
        let path = match self.file.parent() {
            Some(dir) if file.is_relative() => dir.join(file),
            _ => file.clone(),
        };
        let problem = |what: String| vec![Problem::at("texts.file", format!("{}: {what}", path.display()))];
        let text = std::fs::read_to_string(&path).map_err(|e| problem(format!("cannot be read ({e})")))?;
        let table: toml::Table = toml::from_str(&text).map_err(|e| problem(format!("is not valid TOML: {e}")))?;
        if let Some(other) = table.keys().find(|k| *k != "texts") {
            return Err(problem(format!("holds `{other}`; only [texts.<lang>] tables belong in it")));
        }
        let Some(table) = table.get("texts") else { return Ok(()) };
        let table = serde_json::to_value(table).map_err(|e| problem(e.to_string()))?;
        let Some(languages) = table.as_object() else { return Err(problem("`texts` must be a table".into())) };
        for (language, from_file) in languages {
            let merged = match texts.languages.remove(language) {
                Some(mut own) => {
                    merge(&mut own, from_file);
                    own
                }
                None => from_file.clone(),
            };
            texts.languages.insert(language.clone(), merged);
        }
        Ok(())
    }
}

/// Adds to `own` what `other` has and `own` does not (nested tables merged; `own` wins).
fn merge(own: &mut serde_json::Value, other: &serde_json::Value) {
    let (Some(own), Some(other)) = (own.as_object_mut(), other.as_object()) else { return };
    for (k, v) in other {
        match own.get_mut(k) {
            Some(mine) => merge(mine, v),
            None => {
                own.insert(k.clone(), v.clone());
            }
        }
    }
}

/// The merged configuration as dotted path → value (arrays as one value each).
fn flatten(merged: &config::Config) -> BTreeMap<String, String> {
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, String>) {
        match v {
            serde_json::Value::Object(map) if !map.is_empty() => {
                for (k, v) in map {
                    let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    walk(&key, v, out);
                }
            }
            other => {
                out.insert(prefix.to_string(), other.to_string());
            }
        }
    }
    let mut out = BTreeMap::new();
    if let Ok(v) = merged.clone().try_deserialize::<serde_json::Value>() {
        walk("", &v, &mut out);
    }
    out
}

fn deserialize(merged: config::Config) -> Result<Settings, Vec<Problem>> {
    palisade_core::config::strict(merged, "")
}

fn validate(s: &Settings) -> Vec<Problem> {
    let mut problems = Vec::new();
    if let Err(mut wrong) = s.texts.build() {
        problems.append(&mut wrong);
    }
    let d = &s.dispatch;
    let counts = [
        ("dispatch.max_concurrency", d.max_concurrency, 100_000),
        ("dispatch.queue_capacity", d.queue_capacity, 1_000_000),
        ("dispatch.conversation_queue", d.conversation_queue, 10_000),
        ("dispatch.send_queue", d.send_queue, 1_000_000),
    ];
    for (key, value, max) in counts {
        if value == 0 || value > max {
            problems.push(Problem::at(key, format!("must be between 1 and {max} (it is {value})")));
        }
    }
    if d.max_file_bytes == 0 || d.max_file_bytes > 2 * 1024 * 1024 * 1024 {
        problems.push(Problem::at("dispatch.max_file_bytes", "must be between 1 and 2147483648 (2 GiB)"));
    }
    if d.handler_timeout.is_zero() || d.handler_timeout > Duration::from_secs(3600) {
        problems.push(Problem::at("dispatch.handler_timeout", "must be between 1ms and 1h, e.g. \"30s\""));
    }
    if d.shutdown_grace > Duration::from_secs(600) {
        problems.push(Problem::at("dispatch.shutdown_grace", "at most 10m: a stopping bot must stop"));
    }
    if s.flows.idle_timeout.is_zero() {
        problems.push(Problem::at("flows.idle_timeout", "must be longer than zero, e.g. \"10m\""));
    }
    if s.flows.sweep_interval.is_zero() {
        problems.push(Problem::at("flows.sweep_interval", "must be longer than zero, e.g. \"30s\""));
    }
    if s.stepup.skew > 3 {
        problems.push(Problem::at("stepup.skew", "at most 3 steps (RFC 6238 recommends 1)"));
    }
    let stepup_durations = [
        ("stepup.grant_ttl", s.stepup.grant_ttl),
        ("stepup.code_timeout", s.stepup.code_timeout),
        ("stepup.secret_message_ttl", s.stepup.secret_message_ttl),
    ];
    for (key, d) in stepup_durations {
        if d.is_zero() {
            problems.push(Problem::at(key, "must be longer than zero, e.g. \"5m\""));
        }
    }
    if s.stepup.secret_message_ttl > Duration::from_secs(24 * 3600) {
        problems.push(Problem::at(
            "stepup.secret_message_ttl",
            "at most 24h: a two-factor key or recovery codes must not stay in a chat longer",
        ));
    }
    for (key, scopes) in [("require_for", &s.stepup.require_for), ("single_use", &s.stepup.single_use)] {
        for (i, scope) in scopes.iter().enumerate() {
            let ok = scope.split_once('.').is_some_and(|(p, a)| !p.is_empty() && !a.is_empty());
            if !ok {
                problems.push(Problem::at(
                    format!("stepup.{key}[{i}]"),
                    format!("`{scope}` must look like `plugin.action`, e.g. `notes.delete`"),
                ));
            }
        }
    }
    if s.store.backup.every < Duration::from_secs(60) {
        problems.push(Problem::at("store.backup.every", "must be at least a minute, e.g. \"24h\""));
    }
    if s.store.backup.keep == 0 || s.store.backup.keep > 1000 {
        problems.push(Problem::at("store.backup.keep", "must be between 1 and 1000"));
    }
    if s.store.backup.dir.is_some() && s.store.backend == crate::config::StoreBackend::Memory {
        problems.push(Problem::at("store.backup.dir", "backups need the sled store; the memory store keeps nothing"));
    }
    redis_problems(&s.store, &s.dispatch.replica, &mut problems);
    if s.store.sweep_interval.is_zero() {
        problems.push(Problem::at("store.sweep_interval", "must be longer than zero, e.g. \"1h\""));
    }
    if s.store.master_key.is_some() && s.store.master_key_file.is_some() {
        problems.push(Problem::at("store.master_key_file", "set either `master_key` or `master_key_file`, not both"));
    }
    for (ns, ttl) in &s.store.retention {
        if let Err(e) = palisade_core::store::check_namespace(ns) {
            problems.push(Problem::at(format!("store.retention.{ns}"), e.to_string()));
        }
        if ttl.is_zero() {
            problems.push(Problem::at(format!("store.retention.{ns}"), "must be longer than zero, e.g. \"365d\""));
        }
        let kept = |k: &str| ns == k || (k == "core.audit" && ns.starts_with("core.audit."));
        if let Some(why) = KEPT_AS_RECORDS.iter().find(|(k, _)| kept(k)) {
            problems.push(Problem::at(
                format!("store.retention.{ns}"),
                format!("`{ns}` cannot be given a retention period: {}; remove this key", why.1),
            ));
        }
    }
    if s.monitoring.audit_verify_every < Duration::from_secs(60) {
        problems.push(Problem::at("monitoring.audit_verify_every", "must be at least a minute, e.g. \"1h\""));
    }
    if s.control.enabled && s.control_socket().as_os_str().len() > 107 {
        problems.push(Problem::at(
            "control.socket",
            format!(
                "`{}` is longer than a Unix socket path may be (107 bytes); set `control.socket` to a shorter path",
                s.control_socket().display()
            ),
        ));
    }
    if s.store.path.as_os_str().is_empty() {
        problems.push(Problem::at("store.path", "must name a directory, e.g. \"data\""));
    }
    if let Err(e) = tracing_subscriber::EnvFilter::try_new(&s.logging.level) {
        problems.push(Problem::at("logging.level", format!("not a valid filter ({e}); try \"info\"")));
    }
    for (i, m) in s.alerts.admin_chats.iter().enumerate() {
        if let Err(e) = m.parse::<UserRef>() {
            problems.push(Problem::at(format!("alerts.admin_chats[{i}]"), e));
        }
    }
    if s.alerts.window.is_zero() {
        problems.push(Problem::at("alerts.window", "must be longer than zero, e.g. \"10m\""));
    }
    for (role, members) in &s.roles {
        for (i, m) in members.iter().enumerate() {
            if let Err(e) = m.parse::<UserRef>() {
                problems.push(Problem::at(format!("roles.{role}[{i}]"), e));
            }
        }
    }
    problems
}

/// `[store.redis]`: set exactly when the backend is Redis, one server or a cluster, addresses Palisade can
/// use, and no password inside an address (where it would end up in logs and process listings).
fn redis_problems(store: &crate::config::StoreSettings, replica: &str, problems: &mut Vec<Problem>) {
    let r = &store.redis;
    let configured = r.url.is_some() || !r.nodes.is_empty();
    if store.backend != crate::config::StoreBackend::Redis {
        if configured {
            problems
                .push(Problem::at("store.redis", "is set but `store.backend` is not \"redis\"; set both or neither"));
        }
        return;
    }
    match (&r.url, r.nodes.is_empty()) {
        (None, true) => problems.push(Problem::at(
            "store.redis.url",
            "`store.backend = \"redis\"` needs `url = \"redis://host:6379\"` (one server) or `nodes = [...]` (Redis Cluster)",
        )),
        (Some(_), false) => problems.push(Problem::at(
            "store.redis.nodes",
            "set either `url` (one server) or `nodes` (Redis Cluster), not both",
        )),
        _ => {}
    }
    let addresses = r
        .url
        .iter()
        .map(|u| ("store.redis.url".to_string(), u))
        .chain(r.nodes.iter().enumerate().map(|(i, u)| (format!("store.redis.nodes[{i}]"), u)));
    for (key, address) in addresses {
        match url::Url::parse(address) {
            Err(e) => problems
                .push(Problem::at(key, format!("`{address}` is not an address ({e}); e.g. \"redis://10.0.0.5:6379\""))),
            Ok(u) if !matches!(u.scheme(), "redis" | "rediss") => problems.push(Problem::at(
                key,
                format!("`{}` is not a Redis scheme: use redis:// or rediss:// (TLS)", u.scheme()),
            )),
            Ok(u) if u.password().is_some() || !u.username().is_empty() => problems.push(Problem::at(
                key,
                "holds credentials; remove them from the address and set `store.redis.username` and \
                 PALISADE__STORE__REDIS__PASSWORD instead",
            )),
            Ok(u) if u.host_str().is_none_or(str::is_empty) => {
                problems.push(Problem::at(key, format!("`{address}` names no host")));
            }
            Ok(_) => {}
        }
    }
    let name_ok = |n: &str| {
        (1..=32).contains(&n.len())
            && n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-".contains(&b))
    };
    if !name_ok(replica) {
        problems.push(Problem::at(
            "dispatch.replica",
            "`store.backend = \"redis\"` needs a name for this replica, unique among those sharing the store: 1 to \
             32 lowercase letters, digits, `_` or `-` (e.g. the host name); set it per process with \
             PALISADE__DISPATCH__REPLICA",
        ));
    }
    let prefix_ok = (1..=32).contains(&r.key_prefix.len())
        && r.key_prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if !prefix_ok {
        problems.push(Problem::at(
            "store.redis.key_prefix",
            "1 to 32 letters, digits, `_`, `.` or `-`, e.g. \"palisade\" or \"shop-bot\"",
        ));
    }
    for (key, d) in [("connect_timeout", r.connect_timeout), ("response_timeout", r.response_timeout)] {
        if d < Duration::from_millis(10) || d > Duration::from_secs(300) {
            problems.push(Problem::at(format!("store.redis.{key}"), "between 10ms and 5m, e.g. \"5s\""));
        }
    }
}

fn inline_secrets(v: &toml::Value, path: &str, warnings: &mut Vec<String>) {
    let toml::Value::Table(t) = v else { return };
    for (k, v) in t {
        let key = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
        if v.is_str() && is_secret_key(k) {
            let env = env_name(&key);
            warnings.push(format!(
                "`{key}` holds a secret inline in the config file; set {env} or write `{k} = {{ file = \"…\" }}` instead"
            ));
        }
        inline_secrets(v, &key, warnings);
    }
}

/// The environment variable that overrides `key` (`dispatch.max_concurrency` → `PALISADE__DISPATCH__MAX_CONCURRENCY`).
pub fn env_name(key: &str) -> String {
    format!("PALISADE__{}", key.replace('.', "__").to_ascii_uppercase())
}
