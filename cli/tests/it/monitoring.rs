//! The monitoring pack in `deploy/` against a running bot: every metric the Prometheus rules and the Grafana
//! dashboard use is one the bot exports (from a live `/metrics` scrape), promtool accepts the rules and their
//! unit tests pass, and the systemd unit's stop timeout fits the bounded shutdown.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::running::{Running, write_config};

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

fn scrape(addr: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    out
}

/// Every `palisade_…` name in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    let re = regex::Regex::new(r"\bpalisade_[a-z0-9_]+").unwrap();
    re.find_iter(text).map(|m| m.as_str().to_string()).collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn every_metric_the_rules_and_the_dashboard_use_is_exported_by_a_running_bot() {
    let dir = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let cfg = write_config(dir.path(), &format!("[monitoring]\nlisten = \"{addr}\"\n"));
    let mut bot = Running::start(&cfg);
    bot.say("/echo one");
    bot.say("/note buy milk");
    bot.say("Shopping");
    bot.wait_for("Saved “Shopping”", 1);
    let body = scrape(&addr);
    let exported: BTreeSet<String> = body
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_string)
        .collect();

    let rules = std::fs::read_to_string(deploy().join("prometheus/palisade-rules.yml")).unwrap();
    let dashboard = std::fs::read_to_string(deploy().join("grafana/palisade-dashboard.json")).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&dashboard).expect("the dashboard is JSON");
    assert!(parsed["panels"].as_array().is_some_and(|p| p.len() > 10), "a dashboard with panels");
    let used: BTreeSet<String> = metric_names(&rules).into_iter().chain(metric_names(&dashboard)).collect();
    assert!(used.len() > 15, "{used:?}");
    // A histogram is exported as its `_bucket`, `_sum` and `_count` series; its base name is named in prose.
    let missing: Vec<_> =
        used.iter().filter(|m| !exported.contains(*m) && !exported.contains(&format!("{m}_bucket"))).collect();
    assert!(missing.is_empty(), "used by deploy/ but not exported: {missing:?}\n--- /metrics ---\n{body}");
    for needed in
        ["palisade_adapter_up", "palisade_audit_intact", "palisade_rights_requests_overdue", "palisade_queue_depth"]
    {
        assert!(used.contains(needed), "{needed} is watched by the pack");
    }
    // The values behind the compliance alerts are right for this bot.
    assert!(body.contains("palisade_adapter_up{platform=\"console\"} 1"), "{body}");
    assert!(body.contains("palisade_audit_intact 1"), "{body}");
    assert!(body.contains("palisade_rights_requests_overdue 0"), "{body}");
    assert!(bot.stop().success());
}

#[test]
fn promtool_accepts_the_rules_and_their_unit_tests_pass() {
    let Ok(version) = Command::new("promtool").arg("--version").output() else {
        assert!(std::env::var_os("CI").is_none(), "CI must install promtool (Debian package `prometheus`)");
        eprintln!("SKIPPED promtool_accepts_the_rules…: promtool is not installed (apt-get install prometheus)");
        return;
    };
    assert!(version.status.success());
    let dir = deploy().join("prometheus");
    let check =
        Command::new("promtool").args(["check", "rules", "palisade-rules.yml"]).current_dir(&dir).output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&check.stdout), String::from_utf8_lossy(&check.stderr));
    assert!(check.status.success(), "{said}");
    assert!(said.contains("SUCCESS"), "{said}");
    let test =
        Command::new("promtool").args(["test", "rules", "palisade-rules.test.yml"]).current_dir(&dir).output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&test.stdout), String::from_utf8_lossy(&test.stderr));
    assert!(test.status.success(), "{said}");
}

#[test]
fn the_systemd_unit_waits_longer_than_the_bounded_shutdown_and_writes_only_the_data_directory() {
    let unit = std::fs::read_to_string(deploy().join("systemd/palisade.service")).unwrap();
    let value = |key: &str| {
        unit.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("{key}= is missing"))
            .to_string()
    };
    let defaults = palisade::config::DispatchSettings::default();
    let stop = humantime::parse_duration(&value("TimeoutStopSec")).unwrap();
    assert!(stop > defaults.handler_timeout + defaults.shutdown_grace, "TimeoutStopSec {stop:?} is too short");
    assert_eq!(value("ReadWritePaths"), format!("/var/lib/{}", value("StateDirectory")));
    for hardening in ["NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes", "CapabilityBoundingSet="] {
        assert!(unit.lines().any(|l| l == hardening), "{hardening}");
    }
    assert!(value("ExecStart").contains(" run --config "));
    assert!(unit.contains("LoadCredential=master.key:"), "the master key comes as a credential");
}
