//! The core's settings, with the defaults a fresh install runs on.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::Secret;

/// The whole configuration file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// `[bot]`: how the bot presents itself.
    pub bot: BotSettings,
    /// `[store]`: where state lives.
    pub store: StoreSettings,
    /// `[dispatch]`: concurrency and timeouts.
    pub dispatch: DispatchSettings,
    /// `[flows]`: conversation flow timeouts.
    pub flows: FlowSettings,
    /// `[logging]`: log format and level.
    pub logging: LogSettings,
    /// `[stepup]`: step-up verification before sensitive actions.
    pub stepup: StepUpSettings,
    /// `[monitoring]`: the metrics and health endpoint.
    pub monitoring: MonitoringSettings,
    /// `[control]`: the local socket the command line reaches the running bot through.
    pub control: ControlSettings,
    /// `[identity]`: identities linked across platforms.
    pub identity: IdentitySettings,
    /// `[texts]`: the operator's wording and translations of the built-in texts.
    pub texts: TextsSettings,
    /// `[alerts]`: anomaly thresholds and who is told.
    pub alerts: AlertSettings,
    /// `[privacy]`: who the controller is and which regimes' deadlines apply.
    pub privacy: PrivacySettings,
    /// `[ratelimit]`: how many events users, conversations and the bot as a whole may send.
    pub ratelimit: RateLimitSettings,
    /// `[integrations.<plugin>]`: the outside hosts each plugin may reach, vetted by the operator.
    pub integrations: BTreeMap<String, IntegrationSettings>,
    /// `[roles]`: role name → identities (`telegram:123456`) holding it.
    pub roles: BTreeMap<String, Vec<String>>,
    /// `[adapters.<name>]`: one table per platform adapter.
    pub adapters: BTreeMap<String, serde_json::Value>,
    /// `[plugins.<name>]`: one table per enabled plugin.
    pub plugins: BTreeMap<String, serde_json::Value>,
}

/// `[texts]`: `default_language`, `file`, and one table per language (`[texts.de]`) whose keys are the
/// catalogue's (`stepup.wrong_code = "…"`, or nested: `[texts.de.stepup]`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct TextsSettings {
    /// The language of users whose platform names none, and the one tried after theirs.
    pub default_language: Option<String>,
    /// A TOML file of more `[texts.<lang>]` tables (as `palisade config texts` prints), relative to the
    /// configuration file (`texts.toml` beside it); the configuration file's own tables win over it.
    pub file: Option<PathBuf>,
    /// Language → its texts (nested tables, keys joined with dots).
    #[serde(flatten)]
    pub languages: BTreeMap<String, serde_json::Value>,
}

impl TextsSettings {
    /// The languages' texts as key → text, each key joined with dots; a value that is not text is a problem
    /// under its key.
    pub fn flattened(&self) -> Result<BTreeMap<String, BTreeMap<String, String>>, Vec<super::Problem>> {
        fn walk(
            at: &str,
            v: &serde_json::Value,
            out: &mut BTreeMap<String, String>,
            language: &str,
            problems: &mut Vec<super::Problem>,
        ) {
            match v {
                serde_json::Value::Object(map) => {
                    for (k, v) in map {
                        let key = if at.is_empty() { k.clone() } else { format!("{at}.{k}") };
                        walk(&key, v, out, language, problems);
                    }
                }
                serde_json::Value::String(text) => {
                    out.insert(at.to_string(), text.clone());
                }
                _ => problems.push(super::Problem::at(format!("texts.{language}.{at}"), "must be text, in quotes")),
            }
        }
        let mut problems = Vec::new();
        let mut languages = BTreeMap::new();
        for (language, table) in &self.languages {
            let mut texts = BTreeMap::new();
            if !table.is_object() {
                problems.push(super::Problem::at(
                    format!("texts.{language}"),
                    "must be a table of texts, e.g. [texts.de] with `stepup.wrong = \"…\"`",
                ));
                continue;
            }
            walk("", table, &mut texts, language, &mut problems);
            languages.insert(language.clone(), texts);
        }
        if problems.is_empty() { Ok(languages) } else { Err(problems) }
    }

    /// The catalogue with these overrides, checked (see [`palisade_core::texts::Texts::new`]).
    pub fn build(&self) -> Result<palisade_core::texts::Texts, Vec<super::Problem>> {
        palisade_core::texts::Texts::new(self.default_language.as_deref(), self.flattened()?)
    }
}

/// `[bot]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct BotSettings {
    /// Name used in greetings and help.
    pub name: String,
}

impl Default for BotSettings {
    fn default() -> Self {
        Self { name: "Palisade".into() }
    }
}

/// Which storage engine holds state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    /// Embedded sled database under `path` (default).
    #[default]
    Sled,
    /// In memory; everything is lost at exit. For tests and experiments.
    Memory,
    /// Redis, standalone or Cluster (`[store.redis]`), shared by several replicas of the bot.
    Redis,
}

/// `[store]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct StoreSettings {
    /// `sled`, `memory` or `redis`.
    pub backend: StoreBackend,
    /// Data directory for sled, relative to the working directory.
    pub path: PathBuf,
    /// The master key as base64 of 32 bytes; normally from `PALISADE__STORE__MASTER_KEY`, never inline.
    pub master_key: Option<Secret>,
    /// A file holding the master key (base64), readable by its owner only (mode 0600).
    pub master_key_file: Option<PathBuf>,
    /// Create `master_key_file` with a fresh key if it does not exist (demos and development only).
    pub create_key_file: bool,
    /// The store's anchor file (flushed-write counter and audit head, MACed), which lets the store notice
    /// lost writes. Default: `palisade.anchor` in the data directory; another volume protects it better.
    pub anchor_file: Option<PathBuf>,
    /// Time-to-live per namespace (`notes = "365d"`); older records are deleted.
    pub retention: BTreeMap<String, humantime_serde::Serde<Duration>>,
    /// How often the retention sweep runs.
    #[serde(with = "humantime_serde")]
    pub sweep_interval: Duration,
    /// `[store.backup]`: backups the running bot takes itself.
    pub backup: BackupSettings,
    /// `[store.redis]`: the server when `backend = "redis"`.
    pub redis: RedisSettings,
}

/// `[store.redis]`: where the shared store lives. Exactly one of `url` (one server) or `nodes` (Redis
/// Cluster). Credentials are secrets: `username` plain, `password` from `PALISADE__STORE__REDIS__PASSWORD`
/// or a file, never in the URL.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct RedisSettings {
    /// One server: `redis://host:6379/0`, or `rediss://` for TLS.
    pub url: Option<String>,
    /// Redis Cluster: the addresses of some of its nodes (the others are found from them).
    pub nodes: Vec<String>,
    /// The ACL user (default: `default`).
    pub username: Option<String>,
    /// The ACL user's password.
    pub password: Option<Secret>,
    /// What every key this bot writes starts with, so that several bots can share one server.
    pub key_prefix: String,
    /// How long connecting may take.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// How long one command may take before it fails (and is retried by the caller's own policy).
    #[serde(with = "humantime_serde")]
    pub response_timeout: Duration,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            url: None,
            nodes: Vec::new(),
            username: None,
            password: None,
            key_prefix: "palisade".into(),
            connect_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(5),
        }
    }
}

/// `[store.backup]`: the running bot writes a consistent, sealed backup into `dir` every `every` and keeps
/// the newest `keep`. Unset `dir`: no scheduled backups (`palisade store backup` still works while the bot
/// is stopped).
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct BackupSettings {
    /// Where backups go; best on another volume than the data directory.
    pub dir: Option<PathBuf>,
    /// How often.
    #[serde(with = "humantime_serde")]
    pub every: Duration,
    /// How many to keep (older ones are deleted).
    pub keep: usize,
}

impl Default for BackupSettings {
    fn default() -> Self {
        Self { dir: None, every: Duration::from_secs(24 * 3600), keep: 7 }
    }
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            backend: StoreBackend::Sled,
            path: PathBuf::from("data"),
            master_key: None,
            master_key_file: None,
            create_key_file: false,
            anchor_file: None,
            retention: BTreeMap::new(),
            sweep_interval: Duration::from_secs(3600),
            backup: BackupSettings::default(),
            redis: RedisSettings::default(),
        }
    }
}

impl StoreSettings {
    /// True when the store's files are in the data directory (sled): its size is theirs.
    pub fn on_disk(&self) -> bool {
        self.backend == StoreBackend::Sled
    }

    /// Where the store is, for messages: the data directory, or the Redis server(s) and key prefix.
    pub fn location(&self) -> String {
        match self.backend {
            StoreBackend::Sled => self.path.display().to_string(),
            StoreBackend::Memory => "memory".into(),
            StoreBackend::Redis => {
                let r = &self.redis;
                let at = r.url.clone().unwrap_or_else(|| r.nodes.join(", "));
                format!("{at} (keys {}:*)", r.key_prefix)
            }
        }
    }

    /// The retention rules as plain durations.
    pub fn retention(&self) -> BTreeMap<String, Duration> {
        self.retention.iter().map(|(k, v)| (k.clone(), **v)).collect()
    }
}

/// `[dispatch]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct DispatchSettings {
    /// Events handled at the same time across all conversations.
    pub max_concurrency: usize,
    /// Events accepted but not yet started before adapters are slowed down (backpressure).
    pub queue_capacity: usize,
    /// A handler running longer is abandoned and the user gets an apology.
    #[serde(with = "humantime_serde")]
    pub handler_timeout: Duration,
    /// Events one conversation may have waiting; more are dropped with one notice.
    pub conversation_queue: usize,
    /// Replies waiting to be sent before handlers wait (backpressure).
    pub send_queue: usize,
    /// On shutdown, how long queued replies may still be sent (after running handlers finished); what is
    /// left is kept in the journal and sent at the next start.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Record each accepted event before the platform is told it arrived, so a crash loses none.
    pub journal: bool,
    /// Largest file a plugin may fetch from a user's message, in bytes.
    pub max_file_bytes: u64,
    /// This process's name among replicas sharing one store (Redis): each replica journals under its own
    /// name and, restarted under it, takes up what it left. Required with `store.backend = "redis"`.
    pub replica: String,
}

impl Default for DispatchSettings {
    fn default() -> Self {
        Self {
            max_concurrency: 64,
            queue_capacity: 1024,
            handler_timeout: Duration::from_secs(30),
            conversation_queue: 20,
            send_queue: 10_000,
            shutdown_grace: Duration::from_secs(10),
            journal: true,
            max_file_bytes: 20 * 1024 * 1024,
            replica: String::new(),
        }
    }
}

/// `[flows]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct FlowSettings {
    /// A flow with no answer for this long is cancelled (`"10m"`, `"1h"`).
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// How often expired flows are looked for, to tell their users.
    #[serde(with = "humantime_serde")]
    pub sweep_interval: Duration,
}

impl Default for FlowSettings {
    fn default() -> Self {
        Self { idle_timeout: Duration::from_secs(600), sweep_interval: Duration::from_secs(30) }
    }
}

/// Log output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Readable lines.
    #[default]
    Human,
    /// One JSON object per line, for log shippers.
    Json,
}

/// `[logging]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct LogSettings {
    /// `human` or `json`.
    pub format: LogFormat,
    /// A tracing filter such as `info` or `palisade=debug,info`; `RUST_LOG` overrides it.
    pub level: String,
    /// Debug mode: log the text of incoming messages at debug level (codes and tokens still masked). Off by
    /// default; never enable it where logs leave the host.
    pub content: bool,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self { format: LogFormat::Human, level: "info".into(), content: false }
    }
}

/// What happens when a user who has not set up two-factor verification starts a sensitive action.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unenrolled {
    /// Tell them how to enrol (`/2fa setup`), then to try again.
    #[default]
    Enrol,
    /// Refuse, and tell them to ask the operator.
    Deny,
}

/// `[stepup]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct StepUpSettings {
    /// Issuer shown in authenticator apps.
    pub issuer: String,
    /// Account label shown in authenticator apps; `{user}` is replaced by the user's platform id.
    pub account_label: String,
    /// Time steps of clock drift accepted either side (RFC 6238 recommends at most 1).
    pub skew: u8,
    /// How long a successful verification covers the same action in the same conversation.
    #[serde(with = "humantime_serde")]
    pub grant_ttl: Duration,
    /// How long the bot waits for the code before dropping the suspended action.
    #[serde(with = "humantime_serde")]
    pub code_timeout: Duration,
    /// `enrol` or `deny`.
    pub unenrolled: Unenrolled,
    /// More actions that need step-up, as `plugin.action` (e.g. `notes.delete`).
    pub require_for: Vec<String>,
    /// Scopes (`plugin.action`) whose verification approves one execution only, with the details the plugin
    /// shows in the prompt (amount, recipient), instead of covering the scope for `grant_ttl`: every
    /// transfer asks for its own code.
    pub single_use: Vec<String>,
    /// How long a message showing the two-factor key, its QR code or the recovery codes may stay in the chat
    /// at most before the bot deletes it (it is deleted as soon as setup ends, or the user says the codes are
    /// saved).
    #[serde(with = "humantime_serde")]
    pub secret_message_ttl: Duration,
}

impl Default for StepUpSettings {
    fn default() -> Self {
        Self {
            issuer: "Palisade".into(),
            account_label: "{user}".into(),
            skew: 1,
            grant_ttl: Duration::from_secs(300),
            code_timeout: Duration::from_secs(300),
            unenrolled: Unenrolled::Enrol,
            require_for: Vec::new(),
            single_use: Vec::new(),
            secret_message_ttl: Duration::from_secs(600),
        }
    }
}

/// `[monitoring]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct MonitoringSettings {
    /// Address for `/metrics` (Prometheus text), `/healthz` and `/readyz`; keep it on loopback or a private
    /// network. Unset: no endpoint.
    pub listen: Option<std::net::SocketAddr>,
    /// How often the running bot verifies the whole audit chain (shown by `palisade status`, exported as
    /// `palisade_audit_intact` and `palisade_audit_verified_seq`).
    #[serde(with = "humantime_serde")]
    pub audit_verify_every: Duration,
}

impl Default for MonitoringSettings {
    fn default() -> Self {
        Self { listen: None, audit_verify_every: Duration::from_secs(3600) }
    }
}

/// `[identity]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct IdentitySettings {
    /// Whether a code typed on one linked platform may confirm an action suspended on another (off: the
    /// code proves the person, but the action was asked elsewhere).
    pub cross_platform_confirm: bool,
}

/// `[control]`: the local socket through which `palisade status|reload|user|audit|store` reach the running
/// bot.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct ControlSettings {
    /// Serve the socket (default true). Off: those commands need the bot stopped, and `reload` needs SIGHUP.
    pub enabled: bool,
    /// Where the socket lives (default `control.sock` in `store.path`). Its directory must be private
    /// (mode 0700) and the path shorter than 108 bytes.
    pub socket: Option<PathBuf>,
}

impl Default for ControlSettings {
    fn default() -> Self {
        Self { enabled: true, socket: None }
    }
}

impl Settings {
    /// The control socket's path.
    pub fn control_socket(&self) -> PathBuf {
        self.control.socket.clone().unwrap_or_else(|| self.store.path.join("control.sock"))
    }
}

/// `[alerts]`: counts within `window` that raise an alert; 0 turns a rule off.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct AlertSettings {
    /// Identities (`telegram:123456`) whose direct chat receives alerts.
    pub admin_chats: Vec<String>,
    /// The sliding window the counts cover.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// After an alert of one kind, no other of that kind for this long.
    #[serde(with = "humantime_serde")]
    pub cooldown: Duration,
    /// Failed verification attempts by one user.
    pub stepup_failures_per_user: u32,
    /// Failed verification attempts across all users.
    pub stepup_failures_total: u32,
    /// Messages from one user (a flood).
    pub messages_per_user: u32,
    /// Erasures across all users.
    pub erasures: u32,
    /// Data exports across all users.
    pub exports: u32,
    /// Webhook requests rejected for bad signatures or secrets.
    pub webhook_rejections: u32,
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self {
            admin_chats: Vec::new(),
            window: Duration::from_secs(600),
            cooldown: Duration::from_secs(600),
            stepup_failures_per_user: 5,
            stepup_failures_total: 20,
            messages_per_user: 120,
            erasures: 5,
            exports: 10,
            webhook_rejections: 10,
        }
    }
}

/// A data-protection regime whose deadlines the request register tracks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Regime {
    /// GDPR: answer within one month (Art. 12(3)).
    Gdpr,
    /// CCPA: answer within 45 days.
    Ccpa,
}

/// `[privacy]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct PrivacySettings {
    /// Who is responsible for the data (name and address), shown by `/privacy`.
    pub controller: String,
    /// How users reach the controller or its data protection officer.
    pub contact: String,
    /// Regimes whose deadlines apply to rights requests; the earliest deadline wins.
    pub regimes: Vec<Regime>,
}

impl Default for PrivacySettings {
    fn default() -> Self {
        Self {
            controller: "the operator of this bot (set [privacy] controller)".into(),
            contact: "the operator (set [privacy] contact)".into(),
            regimes: vec![Regime::Gdpr],
        }
    }
}

/// A rate: `count` events per `per`, written `"30/min"`, `"5/s"` or `"100/h"`; `"0/s"` turns a limit off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// Events allowed per period (also the burst size).
    pub count: u32,
    /// The period.
    pub per: Duration,
}

impl std::str::FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a rate; write it like \"30/min\", \"5/s\" or \"100/h\"");
        let (count, unit) = s.split_once('/').ok_or_else(bad)?;
        let count = count.trim().parse().map_err(|_| bad())?;
        let per = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            _ => return Err(bad()),
        };
        Ok(Self { count, per })
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `[ratelimit]`.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(default)]
pub struct RateLimitSettings {
    /// Per user, across chats.
    pub per_user: Rate,
    /// Per user in one chat.
    pub per_conversation: Rate,
    /// For the whole bot.
    pub global: Rate,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            per_user: Rate { count: 30, per: Duration::from_secs(60) },
            per_conversation: Rate { count: 20, per: Duration::from_secs(60) },
            global: Rate { count: 200, per: Duration::from_secs(1) },
        }
    }
}

/// `[integrations.<plugin>]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntegrationSettings {
    /// Hosts (exact names, no wildcards) the plugin may call over HTTPS; each must also be declared by the plugin.
    pub allow: Vec<String>,
    /// A request taking longer fails.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Larger responses are dropped.
    pub max_response_bytes: usize,
    /// A PEM CA certificate to trust besides the public roots (a company CA).
    pub ca_file: Option<PathBuf>,
    /// Signs outgoing JSON posts (`X-Palisade-Signature`) with HMAC-SHA256 when set.
    pub webhook_secret: Option<Secret>,
}

impl Default for IntegrationSettings {
    fn default() -> Self {
        Self {
            allow: Vec::new(),
            timeout: Duration::from_secs(10),
            max_response_bytes: 1 << 20,
            ca_file: None,
            webhook_secret: None,
        }
    }
}
