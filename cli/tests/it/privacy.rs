//! `/mydata` and `/forget` in the console, and the operator's `palisade user …` commands.

use crate::support::{palisade, text};

use std::path::Path;

fn config(dir: &Path) -> String {
    let path = dir.join("bot.toml");
    let body = format!(
        "[store]\npath = \"{}\"\nmaster_key_file = \"{}\"\ncreate_key_file = true\n[logging]\nlevel = \"error\"\n\
         [adapters.console]\nuser = \"carol\"\n[plugins.notes]\n[privacy]\ncontroller = \"Acme Ltd\"\ncontact = \"dpo@acme.example\"\nregimes = [\"gdpr\", \"ccpa\"]\n",
        dir.join("data").display(),
        dir.join("k.key").display()
    );
    std::fs::write(&path, body).unwrap();
    path.display().to_string()
}

#[test]
fn mydata_then_forget_in_the_console() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let run = palisade(&["chat", "--config", &cfg], "/note carol-marker-4471\nGroceries\n/privacy\n/mydata\n");
    let text = text(&run);
    assert!(run.status.success(), "{text}");
    assert!(text.contains("Who is responsible for your data: Acme Ltd. Contact: dpo@acme.example."), "{text}");
    let path = text.split("[file saved to ").nth(1).unwrap().split(']').next().unwrap();
    let export: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(export["data"]["notes"]["records"][0]["value"]["text"], "carol-marker-4471");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(path).unwrap().permissions().mode() & 0o777, 0o600, "the export is private");
    }
    // Erasure also deletes the copy of the export the console saved.
    let run = palisade(&["chat", "--config", &cfg], "/forget\n1\n/notes\n");
    let text = crate::support::text(&run);
    assert!(text.contains("Erase everything stored about you?"), "{text}");
    assert!(text.contains("Done: your data was erased"), "{text}");
    assert!(text.contains("You have no notes yet."), "{text}");
    assert!(!Path::new(path).exists(), "the export file was removed by /forget");
}

#[test]
fn the_operator_exports_erases_and_tracks_requests() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    palisade(&["chat", "--config", &cfg], "/note dave-marker-1212\nTodo\n");
    let export = palisade(&["user", "export", "--config", &cfg, "--platform", "console", "--id", "carol"], "");
    assert!(text(&export).contains("dave-marker-1212"), "{}", text(&export));
    let refused = palisade(&["user", "erase", "--config", &cfg, "--platform", "console", "--id", "carol"], "");
    assert_eq!(refused.status.code(), Some(2));
    let erased = palisade(&["user", "erase", "--config", &cfg, "--platform", "console", "--id", "carol", "--yes"], "");
    assert!(text(&erased).contains("erased"), "{}", text(&erased));
    let added = palisade(
        &["user", "requests", "--config", &cfg, "--add", "access", "--platform", "telegram", "--id", "42"],
        "",
    );
    let list = text(&added);
    assert!(list.contains("Access  subject") && list.contains("via cli") && list.contains("via manual"), "{list}");
    assert!(list.contains("Erasure"), "{list}");
    assert!(list.contains("  open"), "the manual request is open: {list}");
    assert!(!list.contains("console:carol") && !list.contains("telegram:42"), "subjects are pseudonyms: {list}");
    let chat = palisade(&["chat", "--config", &cfg], "/notes\n");
    assert!(text(&chat).contains("You have no notes yet."), "{}", text(&chat));
}

#[test]
fn ids_are_checked_and_an_unknown_person_is_said_to_have_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    palisade(&["chat", "--config", &cfg], "/note kept\nTodo\n");
    let bad = palisade(&["user", "export", "--config", &cfg, "--platform", "telegram", "--id", "@carol"], "");
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad).contains("`@carol` is not a telegram user id: a Telegram user id is a positive number"));
    let slack = palisade(&["user", "erase", "--config", &cfg, "--platform", "slack", "--id", "U123", "--yes"], "");
    assert!(text(&slack).contains("a Slack user id is TEAM/USER"), "{}", text(&slack));
    let nobody = palisade(&["user", "erase", "--config", &cfg, "--platform", "telegram", "--id", "42", "--yes"], "");
    assert!(nobody.status.success());
    assert!(
        text(&nobody).contains("nothing is stored about telegram:42; nothing was erased and no request was registered")
    );
    let requests = palisade(&["user", "requests", "--config", &cfg], "");
    assert!(!text(&requests).contains("Erasure"), "an erasure of nobody is not registered: {}", text(&requests));
}
