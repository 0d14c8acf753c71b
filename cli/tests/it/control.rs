//! The command line against a running bot, through its control socket: operator commands while events keep
//! flowing, the same answers as offline, status, reload (command and SIGHUP), a stale socket after kill -9,
//! and a peer of another user turned away.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use crate::support::running::{Running, write_config};
use crate::support::{palisade, stdout, text};

fn status_json(bot: &Running) -> serde_json::Value {
    let out = bot.cli(&["status", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn operator_commands_run_through_the_running_bot_while_events_flow_with_the_offline_answers() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), "[ratelimit]\nper_user = \"0/s\"\nper_conversation = \"0/s\"\n");
    let mut bot = Running::start(&cfg);
    bot.say("/note buy milk");
    bot.say("Shopping");
    bot.wait_for("Saved “Shopping”", 1);

    // Events keep flowing while staff work: 150 messages, interleaved with the commands below.
    let mut stdin = bot.stdin.take().unwrap();
    let flow = std::thread::spawn(move || {
        for n in 0..150 {
            stdin.write_all(format!("/echo tick {n}\n").as_bytes()).unwrap();
            std::thread::sleep(Duration::from_millis(10));
        }
        stdin
    });

    let export = bot.cli(&["user", "export", "--platform", "console", "--id", "tester"]);
    assert_eq!(export.status.code(), Some(0), "{}", text(&export));
    let data: serde_json::Value = serde_json::from_slice(&export.stdout).unwrap();
    assert!(data.to_string().contains("Shopping"), "the export holds the note: {data}");

    let file = dir.path().join("export.json");
    let to_file =
        bot.cli(&["user", "export", "--platform", "console", "--id", "tester", "--out", file.to_str().unwrap()]);
    assert_eq!(stdout(&to_file), format!("wrote {} (mode 0600)\n", file.display()), "{}", text(&to_file));
    assert!(std::fs::read_to_string(&file).unwrap().contains("Shopping"));
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    }

    let verify = bot.cli(&["audit", "verify"]);
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify));
    assert!(stdout(&verify).starts_with("audit trail intact: "), "{}", text(&verify));
    let stats = bot.cli(&["store", "stats"]);
    assert_eq!(stats.status.code(), Some(0), "{}", text(&stats));
    assert!(stdout(&stats).contains("notes: 1 record(s)"), "{}", stdout(&stats));
    let check = bot.cli(&["store", "check"]);
    assert!(stdout(&check).ends_with("store OK\n"), "{}", text(&check));
    let added = bot.cli(&["user", "requests", "--add", "access", "--platform", "console", "--id", "tester"]);
    assert!(stdout(&added).starts_with("registered request "), "{}", text(&added));

    bot.stdin = Some(flow.join().unwrap());
    bot.wait_for("bot> tick ", 150);

    // What status says matches what happened.
    let status = status_json(&bot);
    assert_eq!(status["adapters"][0]["platform"], "console");
    assert_eq!(status["adapters"][0]["state"], "connected");
    assert!(status["adapters"][0]["last_event_seconds_ago"].as_u64().is_some_and(|s| s < 30), "{status}");
    assert_eq!(status["rights_requests"]["open"], 1, "{status}");
    assert_eq!(status["rights_requests"]["overdue"], 0);
    assert!(status["store"]["subjects"].as_u64().unwrap() >= 1, "{status}");
    assert!(status["audit"]["entries"].as_u64().unwrap() > 5, "{status}");
    assert_eq!(status["audit"]["last_check"]["finding"], serde_json::Value::Null, "{status}");
    let human = bot.cli(&["status"]);
    assert!(stdout(&human).contains("console   connected"), "{}", stdout(&human));
    assert!(stdout(&human).contains("rights requests: 1 open"), "{}", stdout(&human));

    // The same answers as offline, for commands whose answer the running bot does not change.
    let erase = bot.cli(&["user", "erase", "--platform", "console", "--id", "tester", "--yes"]);
    assert!(stdout(&erase).starts_with("erased "), "{}", text(&erase));
    bot.say("/notes");
    bot.wait_for("no notes", 1);
    let online =
        [bot.cli(&["user", "requests"]), bot.cli(&["user", "export", "--platform", "console", "--id", "nobody"])];
    let refused = bot.cli(&["store", "restore", "whatever.bak"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(text(&refused).contains("stop the bot first"), "{}", text(&refused));
    let log = bot.log();
    assert!(bot.stop().success(), "{log}");
    assert!(!std::fs::exists(dir.path().join("data/control.sock")).unwrap(), "the socket is removed at exit");

    let offline = [
        bot_cli(&cfg, &["user", "requests"]),
        bot_cli(&cfg, &["user", "export", "--platform", "console", "--id", "nobody"]),
    ];
    for (on, off) in online.iter().zip(&offline) {
        assert_eq!((on.status.code(), stdout(on)), (off.status.code(), stdout(off)));
    }
    assert!(stdout(&offline[0]).contains("Access"), "{}", stdout(&offline[0]));
    // Every request through the socket was audited with the OS user.
    let trail = bot_cli(&cfg, &["audit", "export"]);
    let requests = stdout(&trail).lines().filter(|l| l.contains("\"control.request\"")).count();
    assert!(requests >= 10, "{}", stdout(&trail));
    assert!(stdout(&trail).contains("\"os_user\":\"uid "), "{}", stdout(&trail));
    assert!(stdout(&trail).contains("\"command\":\"user export\""), "{}", stdout(&trail));
    assert!(!stdout(&trail).contains("tester"), "no identity in the trail's details");
}

fn bot_cli(cfg: &Path, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.extend(["--config", cfg.to_str().unwrap()]);
    palisade(&all, "")
}

#[test]
fn reload_applies_roles_and_rate_limits_without_a_restart_and_a_broken_file_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), "[ratelimit]\nper_user = \"2/min\"\n");
    let mut bot = Running::start(&cfg);
    for n in 0..3 {
        bot.say(&format!("/echo first {n}"));
    }
    bot.wait_for("You are sending messages faster than I can answer", 1);
    bot.say("/admin audit");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(bot.stdout().matches("bot> first").count(), 2, "{}", bot.stdout());

    // More room, and an admin role for the tester.
    let with = "[ratelimit]\nper_user = \"600/min\"\n[roles]\nadmin = [\"console:tester\"]\n";
    write_config(dir.path(), with);
    let reload = bot.cli(&["reload"]);
    assert_eq!(reload.status.code(), Some(0), "{}", text(&reload));
    let said = stdout(&reload);
    assert!(
        said.contains("now in effect: ") && said.contains("ratelimit.per_user") && said.contains("roles.admin"),
        "{said}"
    );
    std::thread::sleep(Duration::from_millis(200)); // the emptied bucket refills at the new rate
    bot.say("/echo after reload");
    bot.wait_for("bot> after reload", 1);
    bot.say("/admin audit");
    bot.wait(
        |b| b.stdout().contains("two-factor") || b.stdout().contains("verification"),
        "the admin's step-up prompt",
    );
    assert!(!bot.stdout().contains("You are not allowed to use /admin"), "{}", bot.stdout());

    // A broken file: refused, nothing changes, the bot keeps answering.
    std::fs::write(&cfg, std::fs::read_to_string(&cfg).unwrap() + "[ratelimit]\nper_user = \"fast\"\n").unwrap();
    let broken = bot.cli(&["reload"]);
    assert_eq!(broken.status.code(), Some(2), "{}", text(&broken));
    assert!(text(&broken).contains("nothing was reloaded"), "{}", text(&broken));
    bot.say("/echo still here");
    bot.wait_for("bot> still here", 1);

    // SIGHUP does what `palisade reload` does; a setting that needs a restart is named.
    write_config(dir.path(), &format!("{with}[dispatch]\nmax_concurrency = 7\n"));
    Command::new("kill").args(["-HUP", &bot.child.id().to_string()]).status().unwrap();
    bot.wait(|b| b.log().contains("in effect only after a restart: dispatch.max_concurrency"), "the SIGHUP reload");
    let log = bot.log();
    assert!(bot.stop().success(), "{log}");
    let trail = stdout(&bot_cli(&cfg, &["audit", "export"]));
    assert_eq!(trail.matches("\"config.reloaded\"").count(), 2, "{trail}");
    assert!(trail.contains("\"by\":\"SIGHUP\""), "{trail}");
}

#[test]
fn a_socket_left_by_a_killed_bot_is_not_trusted_and_is_replaced_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), "");
    let mut bot = Running::start(&cfg);
    Command::new("kill").args(["-KILL", &bot.child.id().to_string()]).status().unwrap();
    bot.child.wait().unwrap();
    assert!(std::fs::exists(dir.path().join("data/control.sock")).unwrap(), "kill -9 leaves the socket");

    let status = bot_cli(&cfg, &["status"]);
    assert_eq!(status.status.code(), Some(3), "{}", text(&status));
    assert!(stdout(&status).starts_with("not running"), "{}", text(&status));
    let stats = bot_cli(&cfg, &["store", "stats"]);
    assert_eq!(stats.status.code(), Some(0), "the store is opened directly: {}", text(&stats));

    let again = Running::start(&cfg);
    assert!(again.log().contains("replaced a control socket left by a process that is gone"), "{}", again.log());
    assert!(again.stop().success());
}

#[test]
fn a_peer_of_another_user_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    if !Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout == b"0\n") {
        eprintln!("SKIPPED a_peer_of_another_user_is_refused: switching to another uid needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let cfg = write_config(dir.path(), "");
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o644)).unwrap();
    let bot = Running::start(&cfg);
    let as_nobody = || {
        Command::new(env!("CARGO_BIN_EXE_palisade"))
            .args(["status", "--config", cfg.to_str().unwrap()])
            .uid(65534)
            .gid(65534)
            .output()
            .unwrap()
    };
    // The data directory is private: another user cannot even reach the socket.
    let out = as_nobody();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("Permission denied"), "{}", text(&out));
    // With the directory and socket opened up by mistake, the kernel's peer credentials still turn them away.
    let data = dir.path().join("data");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(data.join("control.sock"), std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = as_nobody();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("uid 65534") && text(&out).contains("may not use this bot's control socket"),
        "{}",
        text(&out)
    );
    assert!(bot.log().contains("refused a peer of another user"), "{}", bot.log());
    assert!(bot.stop().success());
    let trail = stdout(&bot_cli(&cfg, &["audit", "export"]));
    assert!(trail.contains("\"control.refused\"") && trail.contains("uid 65534"), "{trail}");
}
