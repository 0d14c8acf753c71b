//! Configuration errors name the file, the key and what to do; overrides and secrets behave as documented.

use std::collections::HashMap;
use std::path::PathBuf;

use palisade::Secret;
use palisade::config::{ConfigError, Loader, Problem};
use palisade::prelude::*;
use serde::Deserialize;

fn write(dir: &tempfile::TempDir, text: &str) -> PathBuf {
    let path = dir.path().join("bot.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn load_err(text: &str) -> (ConfigError, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, text);
    (Loader::new(&path).with_env(HashMap::new()).load().unwrap_err(), path)
}

fn keys(e: &ConfigError) -> Vec<Option<&str>> {
    e.problems.iter().map(|p| p.key.as_deref()).collect()
}

#[test]
fn bad_toml_names_the_file_line_and_column() {
    let (e, path) = load_err("[dispatch]\nmax_concurrency = 4\n[flows\nidle_timeout = \"1m\"\n");
    let shown = e.to_string();
    assert!(shown.contains(&path.display().to_string()), "{shown}");
    assert!(shown.contains("invalid TOML"), "{shown}");
    assert!(shown.contains("line 3"), "{shown}");
}

#[test]
fn every_unknown_key_is_reported_with_its_path() {
    let (e, _) = load_err("[dispatch]\nmax_concurency = 4\n[telegarm]\ntoken = 1\n[flows]\nidle = \"1m\"\n");
    let mut k = keys(&e);
    k.sort();
    assert_eq!(k, [Some("dispatch.max_concurency"), Some("flows.idle"), Some("telegarm")]);
    assert!(e.problems.iter().all(|p| p.message.contains("unknown key")));
}

#[test]
fn a_wrong_type_names_the_key_and_the_expected_type() {
    let (e, _) = load_err("[dispatch]\nmax_concurrency = \"lots\"\n");
    assert_eq!(keys(&e), [Some("dispatch.max_concurrency")]);
    let msg = &e.problems[0].message;
    assert!(msg.contains("invalid") && msg.contains("lots"), "{msg}");
    let (e, _) = load_err("[flows]\nidle_timeout = \"ten minutes\"\n");
    assert_eq!(keys(&e), [Some("flows.idle_timeout")]);
}

#[test]
fn semantic_problems_are_all_reported_together() {
    let (e, _) = load_err(
        "[dispatch]\nmax_concurrency = 0\n[roles]\nadmin = [\"console:root\", \"alice\", \"irc:bob\"]\n[logging]\nlevel = \"=[\"\n",
    );
    assert_eq!(
        keys(&e),
        [Some("dispatch.max_concurrency"), Some("logging.level"), Some("roles.admin[1]"), Some("roles.admin[2]")]
    );
    assert!(e.problems[2].message.contains("platform:id"), "{:?}", e.problems[2]);
}

#[test]
fn a_missing_file_says_how_to_point_at_one() {
    let e = Loader::new("/nonexistent/palisade.toml").load().unwrap_err();
    assert!(e.to_string().contains("pass --config"), "{e}");
}

#[test]
fn environment_overrides_use_the_documented_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "[dispatch]\nmax_concurrency = 4\n[plugins.notes]\nmax_notes = 5\n");
    let env = HashMap::from([
        ("PALISADE__DISPATCH__MAX_CONCURRENCY".to_string(), "7".to_string()),
        ("PALISADE__FLOWS__IDLE_TIMEOUT".to_string(), "90s".to_string()),
        ("PALISADE__PLUGINS__NOTES__MAX_NOTES".to_string(), "9".to_string()),
    ]);
    let loaded = Loader::new(&path).with_env(env).load().unwrap();
    assert_eq!(loaded.settings.dispatch.max_concurrency, 7);
    assert_eq!(loaded.settings.flows.idle_timeout.as_secs(), 90);
    let notes = palisade::Section::new("plugins.notes", loaded.settings.plugins["notes"].clone()).unwrap();
    let parsed: palisade_notes::NotesSettings = notes.parse().unwrap();
    assert_eq!(parsed.max_notes, 9);
}

/// A plugin with a secret, to check how secrets are configured.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VaultSettings {
    api_key: Secret,
}

struct Vault;

#[async_trait]
impl Plugin for Vault {
    fn name(&self) -> &'static str {
        "vault"
    }
    fn commands(&self) -> Vec<Command> {
        Vec::new()
    }
    async fn command(&self, _: &str, _: &mut Ctx) -> Result<(), PluginError> {
        Ok(())
    }
}

fn registry() -> Registry {
    Registry::new().plugin("vault", |s: &Section| {
        let _settings: VaultSettings = s.parse()?;
        Ok(Vault)
    })
}

fn plugin_problems(text: &str) -> Vec<Problem> {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, text);
    let loaded = Loader::new(&path).with_env(HashMap::new()).load().unwrap();
    match registry().build_plugins(&loaded.settings) {
        Ok(_) => Vec::new(),
        Err(problems) => problems,
    }
}

#[test]
fn a_missing_secret_names_the_key_and_the_variable() {
    let problems = plugin_problems("[plugins.vault]\napi_key = { env = \"PALISADE_TEST_SURELY_UNSET_VAR\" }\n");
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].key.as_deref(), Some("plugins.vault.api_key"));
    assert!(problems[0].message.contains("PALISADE_TEST_SURELY_UNSET_VAR"), "{:?}", problems[0]);
    let problems = plugin_problems("[plugins.vault]\n");
    assert_eq!(problems[0].key.as_deref(), Some("plugins.vault"));
    assert!(problems[0].message.contains("api_key"), "{:?}", problems[0]);
}

#[test]
fn secrets_load_from_files_and_never_print() {
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("key");
    std::fs::write(&secret_file, "s3cr3t-value\n").unwrap();
    let text = format!("[plugins.vault]\napi_key = {{ file = \"{}\" }}\n", secret_file.display());
    let path = write(&dir, &text);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let loaded = Loader::new(&path).with_env(HashMap::new()).load().unwrap();
        let section = Section::new("plugins.vault", loaded.settings.plugins["vault"].clone()).unwrap();
        let problems = section.parse::<VaultSettings>().unwrap_err();
        assert!(problems[0].message.contains("chmod 600"), "{problems:?}");
        std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let loaded = Loader::new(&path).with_env(HashMap::new()).load().unwrap();
    assert!(loaded.warnings.is_empty());
    let section = Section::new("plugins.vault", loaded.settings.plugins["vault"].clone()).unwrap();
    let settings: VaultSettings = section.parse().unwrap();
    assert_eq!(settings.api_key.expose(), "s3cr3t-value");
    assert_eq!(format!("{settings:?}"), "VaultSettings { api_key: Secret([redacted]) }");
}

#[test]
fn an_inline_secret_works_but_warns_with_the_env_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "[plugins.vault]\napi_key = \"inline-secret\"\n");
    let loaded = Loader::new(&path).with_env(HashMap::new()).load().unwrap();
    assert_eq!(loaded.warnings.len(), 1);
    assert!(loaded.warnings[0].contains("PALISADE__PLUGINS__VAULT__API_KEY"), "{:?}", loaded.warnings);
    assert!(!loaded.warnings[0].contains("inline-secret"));
}

#[test]
fn unknown_plugins_list_what_is_available() {
    let problems = plugin_problems("[plugins.vault]\napi_key = \"x\"\n[plugins.nots]\n");
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].key.as_deref(), Some("plugins.nots"));
    assert!(problems[0].message.contains("available: vault"), "{:?}", problems[0]);
}

#[test]
fn plugin_tables_check_their_keys_and_enabled_flag() {
    let problems = plugin_problems("[plugins.vault]\napi_key = \"x\"\napi_kye = \"y\"\n");
    assert_eq!(problems[0].key.as_deref(), Some("plugins.vault.api_kye"));
    let problems = plugin_problems("[plugins.vault]\nenabled = \"yes\"\n");
    assert_eq!(problems[0].key.as_deref(), Some("plugins.vault.enabled"));
    assert!(plugin_problems("[plugins.vault]\nenabled = false\n").is_empty(), "a disabled plugin is not built");
}

#[test]
fn the_shipped_configs_are_valid() {
    for file in ["config/demo.toml", "config/palisade.example.toml"] {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(file);
        let loaded = Loader::new(&path).with_env(HashMap::new()).load().unwrap_or_else(|e| panic!("{e}"));
        assert!(loaded.warnings.is_empty(), "{file}: {:?}", loaded.warnings);
    }
}

#[test]
fn a_bad_value_from_the_environment_names_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "[dispatch]\nmax_concurrency = 4\n");
    let env = HashMap::from([("PALISADE__DISPATCH__MAX_CONCURRENCY".to_string(), "lots".to_string())]);
    let e = Loader::new(&path).with_env(env).load().unwrap_err();
    assert_eq!(keys(&e), [Some("dispatch.max_concurrency")]);
    assert!(e.problems[0].message.contains("environment variable PALISADE__DISPATCH__MAX_CONCURRENCY"), "{e}");
}

#[test]
fn an_all_digit_secret_from_the_environment_stays_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "[plugins.vault]\n");
    let env = HashMap::from([("PALISADE__PLUGINS__VAULT__API_KEY".to_string(), "123456".to_string())]);
    let loaded = Loader::new(&path).with_env(env).load().unwrap();
    let section = Section::new("plugins.vault", loaded.settings.plugins["vault"].clone()).unwrap();
    let settings: VaultSettings = section.parse().unwrap();
    assert_eq!(settings.api_key.expose(), "123456");
}

#[test]
fn a_plugin_registered_under_another_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "[plugins.vlt]\n");
    let loaded = Loader::new(&path).with_env(HashMap::new()).load().unwrap();
    let problems = Registry::new().plugin("vlt", |_| Ok(Vault)).build_plugins(&loaded.settings).err().unwrap();
    assert_eq!(problems[0].key.as_deref(), Some("plugins.vlt"));
    assert!(problems[0].message.contains("calls itself `vault`"), "{:?}", problems[0]);
}

#[test]
fn a_table_without_settings_rejects_keys() {
    let s = Section::new("plugins.echo", serde_json::json!({"enabled": true, "loud": 1})).unwrap();
    let problems = s.no_settings().unwrap_err();
    assert_eq!(problems[0].key.as_deref(), Some("plugins.echo.loud"));
}

#[test]
fn retention_cannot_shorten_what_must_be_kept_and_plugins_cannot_take_core_names() {
    let text = r#"
[store]
backend = "memory"
[store.retention]
"core.audit" = "1d"
"core.privacy.requests" = "1d"
"core.stepup" = "1d"
"core.flows" = "1h"
"#;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.toml");
    std::fs::write(&file, text).unwrap();
    let err = palisade::config::Loader::new(&file).load().unwrap_err().to_string();
    for key in ["store.retention.core.audit", "store.retention.core.privacy.requests", "store.retention.core.stepup"] {
        assert!(err.contains(&format!("`{key}`: ")), "{key} not refused: {err}");
    }
    assert!(!err.contains("store.retention.core.flows"), "shortening flow state is allowed: {err}");
}

/// A plugin called `core` would read and write the runtime's own records through its scoped store.
#[test]
fn a_plugin_cannot_take_a_name_the_runtime_uses() {
    #[derive(Debug)]
    struct Impostor;
    #[async_trait]
    impl Plugin for Impostor {
        fn name(&self) -> &'static str {
            "core"
        }
        fn commands(&self) -> Vec<Command> {
            Vec::new()
        }
        async fn command(&self, _: &str, _: &mut Ctx) -> Result<(), PluginError> {
            Ok(())
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.toml");
    std::fs::write(&file, "[store]\nbackend = \"memory\"\n[adapters.console]\n[plugins.core]\n").unwrap();
    let loaded = Loader::new(&file).load().unwrap();
    let registry = Registry::new().plugin("core", |_| Ok(Impostor));
    let err = palisade::bot::Plan::new(&loaded, &registry, palisade::bot::AdapterChoice::Configured).unwrap_err();
    assert!(err.to_string().contains("`plugins.core`: the name `core` is reserved"), "{err}");
}

#[test]
fn text_overrides_are_checked_key_by_key() {
    let (e, _) = load_err(
        "[texts]\ndefault_language = \"de\"\n[texts.de]\nstepup.wrong = \"Falsch: noch {rest}.\"\nrouter.unknwon_command = \"x\"\n",
    );
    assert_eq!(keys(&e), [Some("texts.de.router.unknwon_command"), Some("texts.de.stepup.wrong")]);
    assert!(e.problems[0].message.contains("did you mean `router.unknown_command`"), "{e}");
    assert!(e.problems[1].message.contains("uses {rest}") && e.problems[1].message.contains("{left}"), "{e}");
    let (e, path) = load_err("[texts]\nfile = \"missing-texts.toml\"\n");
    assert_eq!(keys(&e), [Some("texts.file")]);
    let beside = path.parent().unwrap().join("missing-texts.toml");
    assert!(e.problems[0].message.contains(&beside.display().to_string()), "resolved beside the file: {e}");
}
