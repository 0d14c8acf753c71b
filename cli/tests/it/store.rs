//! `palisade keygen` and `palisade store …` as an operator runs them.

use crate::support::{palisade, text};

use std::path::Path;

fn config(dir: &Path, key_file: &str) -> String {
    let path = dir.join("bot.toml");
    let body = format!(
        "[store]\npath = \"{}\"\nmaster_key_file = \"{}\"\n[logging]\nlevel = \"warn\"\n[adapters.console]\n[plugins.notes]\n",
        dir.join("data").display(),
        dir.join(key_file).display()
    );
    std::fs::write(&path, body).unwrap();
    path.display().to_string()
}

#[test]
fn keygen_check_rotate_and_keep_reading() {
    let dir = tempfile::tempdir().unwrap();
    let old_key = dir.path().join("old.key");
    let out = palisade(&["keygen", "--out", old_key.to_str().unwrap()], "");
    assert!(out.status.success(), "{}", text(&out));
    assert!(palisade(&["keygen", "--out", old_key.to_str().unwrap()], "").status.code() == Some(1));

    let cfg = config(dir.path(), "old.key");
    let chat = palisade(&["chat", "--config", &cfg], "/note keep me\nKept\n");
    assert!(text(&chat).contains("Saved “Kept”."), "{}", text(&chat));

    let check = palisade(&["store", "check", "--config", &cfg], "");
    assert!(check.status.success(), "{}", text(&check));
    assert!(text(&check).contains("notes: 1 record(s) open, 0 unreadable"), "{}", text(&check));
    assert!(text(&check).contains("store OK"));

    let new_key = dir.path().join("new.key");
    palisade(&["keygen", "--out", new_key.to_str().unwrap()], "");
    let rotate = palisade(&["store", "rotate-key", "--config", &cfg, "--new-key-file", new_key.to_str().unwrap()], "");
    assert!(rotate.status.success(), "{}", text(&rotate));
    assert!(text(&rotate).contains("re-wrapped"), "{}", text(&rotate));

    let stale = palisade(&["store", "check", "--config", &cfg], "");
    assert_eq!(stale.status.code(), Some(1));
    assert!(text(&stale).contains("master key does not match"), "{}", text(&stale));

    let cfg = config(dir.path(), "new.key");
    let chat = palisade(&["chat", "--config", &cfg], "/notes\n");
    assert!(text(&chat).contains("1. Kept — keep me"), "{}", text(&chat));
    let stats = palisade(&["store", "stats", "--config", &cfg], "");
    assert!(text(&stats).contains("size on disk:"), "{}", text(&stats));
    assert!(text(&stats).contains("data subjects with a key: 1"), "{}", text(&stats));

    let verify = palisade(&["audit", "verify", "--config", &cfg], "");
    assert!(verify.status.success(), "{}", text(&verify));
    assert!(text(&verify).contains("audit trail intact: 3 entries"), "{}", text(&verify));
    let export = palisade(&["audit", "export", "--config", &cfg, "--since", "2020-01-01"], "");
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&export.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let events: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["config.loaded", "store.key_rotated", "config.loaded"]);
    assert!(lines[0]["time"].as_str().unwrap().ends_with('Z'));
    let bad = palisade(&["audit", "export", "--config", &cfg, "--since", "last tuesday"], "");
    assert!(text(&bad).contains("is not a date like 2026-11-01"), "{}", text(&bad));
}

#[cfg(unix)]
#[test]
fn a_key_file_others_can_read_stops_the_bot_with_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k.key");
    palisade(&["keygen", "--out", key.to_str().unwrap()], "");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let cfg = config(dir.path(), "k.key");
    let out = palisade(&["chat", "--config", &cfg], "/help\n");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains(&format!("chmod 600 {}", key.display())), "{}", text(&out));
}
