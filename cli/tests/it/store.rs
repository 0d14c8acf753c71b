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

/// The restore drill of docs/operations.md ("Backups"), step by step.
#[test]
fn backup_and_restore_drill() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("master.key");
    palisade(&["keygen", "--out", key.to_str().unwrap()], "");
    let cfg = config(dir.path(), "master.key");
    let chat = palisade(&["chat", "--config", &cfg], "/note keep me\nKept\n");
    assert!(text(&chat).contains("Saved “Kept”."), "{}", text(&chat));

    // 1. Take a backup (the bot is stopped; a running bot takes them itself with [store.backup]).
    let file = dir.path().join("nightly.backup");
    let backup = palisade(&["store", "backup", "--config", &cfg, "--out", file.to_str().unwrap()], "");
    assert!(backup.status.success(), "{}", text(&backup));
    assert!(text(&backup).contains("record(s)"), "{}", text(&backup));
    let bytes = std::fs::read(&file).unwrap();
    assert!(!bytes.windows(7).any(|w| w == b"keep me"), "the backup holds plaintext");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    }

    // Written after the backup: lost by the restore, as it should be.
    palisade(&["chat", "--config", &cfg], "/note later\nLater\n");

    // 2. Restoring over a live data directory is refused and changes nothing.
    let over = palisade(&["store", "restore", "--config", &cfg, file.to_str().unwrap()], "");
    assert_eq!(over.status.code(), Some(1));
    assert!(text(&over).contains("not empty"), "{}", text(&over));

    // 3. A damaged copy is refused before anything is written.
    let data = dir.path().join("data");
    std::fs::rename(&data, dir.path().join("data.damaged")).unwrap();
    let damaged = dir.path().join("damaged.backup");
    let mut flipped = bytes.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 1;
    std::fs::write(&damaged, &flipped).unwrap();
    let refused = palisade(&["store", "restore", "--config", &cfg, damaged.to_str().unwrap()], "");
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused).contains("use another copy"), "{}", text(&refused));
    assert!(!data.join("db").exists(), "nothing was written");

    // 4. Restore, then check, verify and use it.
    let restore = palisade(&["store", "restore", "--config", &cfg, file.to_str().unwrap()], "");
    assert!(restore.status.success(), "{}", text(&restore));
    assert!(text(&restore).contains("recorded as audit entry"), "{}", text(&restore));
    let check = palisade(&["store", "check", "--config", &cfg], "");
    assert!(check.status.success() && text(&check).contains("store OK"), "{}", text(&check));
    let verify = palisade(&["audit", "verify", "--config", &cfg], "");
    assert!(verify.status.success(), "{}", text(&verify));
    let notes = palisade(&["chat", "--config", &cfg], "/notes\n");
    assert!(text(&notes).contains("1. Kept — keep me"), "{}", text(&notes));
    assert!(!text(&notes).contains("Later"), "{}", text(&notes));
    let export = palisade(&["audit", "export", "--config", &cfg, "--since", "2020-01-01"], "");
    let events = String::from_utf8_lossy(&export.stdout);
    assert!(events.contains("\"store.backup\"") && events.contains("\"store.restored\""), "{events}");

    // 5. Another master key cannot restore it.
    let other = dir.path().join("other.key");
    palisade(&["keygen", "--out", other.to_str().unwrap()], "");
    let cfg_other = config(dir.path(), "other.key");
    std::fs::rename(&data, dir.path().join("data.restored")).unwrap();
    let wrong = palisade(&["store", "restore", "--config", &cfg_other, file.to_str().unwrap()], "");
    assert_eq!(wrong.status.code(), Some(1));
    assert!(text(&wrong).contains("another master key"), "{}", text(&wrong));
}

#[test]
fn two_listeners_on_one_address_fail_config_check_naming_both_keys() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("master.key");
    palisade(&["keygen", "--out", key.to_str().unwrap()], "");
    let path = dir.path().join("bot.toml");
    let store = format!("[store]\nbackend = \"memory\"\nmaster_key_file = \"{}\"\n", key.display());
    let body = store
        + "[adapters.discord]\ntoken = \"MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB\"\napplication_id = \"1234567890123456789\"\npublic_key = \"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a\"\n\
                [adapters.slack]\nmode = \"events\"\nbot_token = \"xoxb-1\"\nsigning_secret = \"s\"\nlisten = \"127.0.0.1:8082\"\n";
    std::fs::write(&path, body).unwrap();
    let check = palisade(&["config", "check", "--config", path.to_str().unwrap()], "");
    assert_eq!(check.status.code(), Some(2), "{}", text(&check));
    let out = text(&check);
    assert!(out.contains("adapters.slack.listen") && out.contains("adapters.discord.listen"), "{out}");
}
