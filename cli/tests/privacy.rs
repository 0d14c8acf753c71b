//! `/mydata` and `/forget` in the console, and the operator's `palisade user …` commands.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn palisade(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .env_remove("PALISADE_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn out(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

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
    let run = palisade(
        &["chat", "--config", &cfg],
        "/note carol-marker-4471\nGroceries\n/privacy\n/mydata\n/forget\n1\n/notes\n",
    );
    let text = out(&run);
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
    assert!(text.contains("Erase everything stored about you?"), "{text}");
    assert!(text.contains("Done: everything stored about you was erased"), "{text}");
    assert!(text.contains("You have no notes yet."), "{text}");
}

#[test]
fn the_operator_exports_erases_and_tracks_requests() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    palisade(&["chat", "--config", &cfg], "/note dave-marker-1212\nTodo\n");
    let export = palisade(&["user", "export", "--config", &cfg, "--platform", "console", "--id", "carol"], "");
    assert!(out(&export).contains("dave-marker-1212"), "{}", out(&export));
    let refused = palisade(&["user", "erase", "--config", &cfg, "--platform", "console", "--id", "carol"], "");
    assert_eq!(refused.status.code(), Some(2));
    let erased = palisade(&["user", "erase", "--config", &cfg, "--platform", "console", "--id", "carol", "--yes"], "");
    assert!(out(&erased).contains("erased"), "{}", out(&erased));
    let added = palisade(
        &["user", "requests", "--config", &cfg, "--add", "access", "--platform", "telegram", "--id", "42"],
        "",
    );
    let list = out(&added);
    assert!(list.contains("Access  subject") && list.contains("via cli") && list.contains("via manual"), "{list}");
    assert!(list.contains("Erasure"), "{list}");
    assert!(list.contains("  open"), "the manual request is open: {list}");
    assert!(!list.contains("console:carol") && !list.contains("telegram:42"), "subjects are pseudonyms: {list}");
    let chat = palisade(&["chat", "--config", &cfg], "/notes\n");
    assert!(out(&chat).contains("You have no notes yet."), "{}", out(&chat));
}
