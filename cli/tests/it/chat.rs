//! The `palisade` binary driven as a person (or a script) would: lines on stdin, replies on stdout.

use crate::support::{palisade, stdout};

use std::io::Write;
use std::process::{Command, Stdio};

use std::path::Path;

fn config(dir: &Path, extra: &str) -> std::path::PathBuf {
    let path = dir.join("bot.toml");
    let text = format!(
        "[store]\npath = \"{}\"\nmaster_key_file = \"{}\"\ncreate_key_file = true\n[logging]\nlevel = \"warn\"\n[adapters.console]\nuser = \"tester\"\n[plugins.echo]\n[plugins.notes]\n{extra}",
        dir.join("data").display(),
        dir.join("master.key").display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn chat_answers_every_line_then_exits_at_end_of_input() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    let out = palisade(
        &["chat", "--config", cfg.to_str().unwrap()],
        "/help\n/echo hello there\n/note buy milk\nShopping\n/notes\n/note delete 1\n2\n/cancel\n",
    );
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let text = stdout(&out);
    let expected = [
        "bot> Here is what you can do:",
        "     /echo <text…> — Repeat what you say",
        "bot> hello there",
        "bot> What title should this note have?",
        "bot> Saved “Shopping”. /notes lists your notes.",
        "bot> Your notes:\n     1. Shopping — buy milk",
        "bot> Delete the note “Shopping”?\n     [1] Delete  [2] Keep  (answer with the number)",
        "bot> Kept it.",
        "bot> There is nothing to cancel.",
    ];
    let mut rest = text.as_str();
    for e in expected {
        let at = rest.find(e).unwrap_or_else(|| panic!("missing or out of order: {e:?}\n--- stdout ---\n{text}"));
        rest = &rest[at + e.len()..];
    }
    assert!(!text.contains("you> "), "no prompt when stdin is not a terminal");
}

#[test]
fn a_flow_started_in_one_run_finishes_in_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    let cfg = cfg.to_str().unwrap();
    let first = palisade(&["chat", "--config", cfg], "/note remember me\n");
    assert!(stdout(&first).contains("What title should this note have?"));
    let second = palisade(&["chat", "--config", cfg], "Across restarts\n/notes\n");
    let text = stdout(&second);
    assert!(text.contains("Saved “Across restarts”."), "{text}");
    assert!(text.contains("1. Across restarts — remember me"), "{text}");
}

#[test]
fn chat_as_another_user_sees_only_their_data() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    let cfg = cfg.to_str().unwrap();
    palisade(&["chat", "--config", cfg], "/note mine\nMine\n");
    let other = palisade(&["chat", "--config", cfg, "--as", "someone-else"], "/notes\n");
    assert!(stdout(&other).contains("You have no notes yet."), "{}", stdout(&other));
}

#[test]
fn config_check_reports_every_problem_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "[plugins.nots]\n[dispatch]\nmax_concurency = 3\n");
    let out = palisade(&["config", "check", "--config", cfg.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`dispatch.max_concurency`: unknown key"), "{err}");
    let good = config(dir.path(), "");
    let ok = palisade(&["config", "check", "--config", good.to_str().unwrap()], "");
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(stdout(&ok).contains("OK (2 plugin(s): echo, notes; 1 adapter(s): console)"), "{}", stdout(&ok));
}

#[test]
fn unknown_plugins_are_reported_by_config_check() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "[plugins.nots]\n");
    let out = palisade(&["config", "check", "--config", cfg.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`plugins.nots`: no plugins named `nots` in this binary (available: bank, echo, faq, notes)"),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn sigterm_shuts_down_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["run", "--config", cfg.to_str().unwrap()])
        .env("RUST_LOG", "info")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"/echo before the signal\n").unwrap();
    // Wait for the reply, so the signal arrives while the bot is running and idle.
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("bot> before the signal") {
        line.clear();
        assert!(std::io::BufRead::read_line(&mut reader, &mut line).unwrap() > 0, "stdout closed early");
    }
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    assert!(out.status.success(), "{:?}", out.status);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("store flushed"), "{log}");
    assert!(!log.contains("before the signal"), "message text must not be logged: {log}");
}

#[test]
fn config_check_refuses_a_bot_without_adapters() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bot.toml");
    let key = dir.path().join("k");
    let text = format!(
        "[store]\npath = \"{}\"\nmaster_key_file = \"{}\"\ncreate_key_file = true\n[plugins.echo]\n",
        dir.path().join("d").display(),
        key.display()
    );
    std::fs::write(&path, text).unwrap();
    let out = palisade(&["config", "check", "--config", path.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`adapters`: no adapter is enabled"));
    let run = palisade(&["chat", "--config", path.to_str().unwrap()], "");
    assert!(run.status.success(), "chat brings its own console: {}", String::from_utf8_lossy(&run.stderr));
}

#[test]
fn the_demo_answers_a_newcomers_plain_questions() {
    // The README's first command, as a newcomer types: plain questions, not commands.
    let dir = tempfile::tempdir().unwrap();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/demo.toml");
    std::fs::copy(&demo, dir.path().join("demo.toml")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["chat", "--config", "demo.toml"])
        .current_dir(dir.path())
        .env_remove("PALISADE_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"hello\nwhat are your opening hours?\nasdf qwer\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = stdout(&out);
    assert!(text.contains("bot> Hello! I am a demo bot. Send /help"), "{text}");
    assert!(text.contains("bot> We are open Monday to Friday"), "{text}");
    assert!(text.contains("bot> I did not understand that. Send /help to see what I can do."), "{text}");
    assert!(!text.contains("I only understand commands"), "{text}");
}

#[test]
fn the_printed_texts_are_a_texts_file_an_operator_rewords() {
    let dir = tempfile::tempdir().unwrap();
    let printed = palisade(&["config", "texts", "--language", "de"], "");
    assert!(printed.status.success());
    let printed = stdout(&printed);
    assert!(printed.contains("[texts.de]\n"), "{printed}");
    assert_eq!(printed.matches(" = \"").count(), palisade_core::texts::CATALOGUE.len(), "every text, once");
    // Reworded in the file as printed, used for a console user (whose platform names no language).
    let english = "router.unknown_command = \"I don't know /{command}. Send /help to see what I can do.\"";
    assert!(printed.contains(english), "{printed}");
    let german = printed.replace(english, "router.unknown_command = \"Ich kenne /{command} nicht.\"");
    std::fs::write(dir.path().join("texts.toml"), german).unwrap();
    let path = config(dir.path(), "[texts]\ndefault_language = \"de\"\nfile = \"texts.toml\"\n");
    let out = palisade(&["chat", "--config", path.to_str().unwrap()], "/nosuch\n");
    assert!(stdout(&out).contains("bot> Ich kenne /nosuch nicht."), "{}", crate::support::text(&out));
    // The configuration's own wording of the same bot, printed back.
    let shown = palisade(&["config", "texts", "--config", path.to_str().unwrap(), "--language", "de"], "");
    assert!(stdout(&shown).contains("router.unknown_command = \"Ich kenne /{command} nicht.\""));
}
