//! The console end to end: enrol two-factor verification, make a transfer that asks for a code, and see a
//! replayed code refused — as a person at the terminal would.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use palisade_testkit::totp::base32;

struct Console {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    seen: String,
}

impl Console {
    fn start(config: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
            .args(["chat", "--config", config])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, stdin, lines, seen: String::new() }
    }

    /// Sends a line and returns the output up to and including the first line containing `expect`.
    fn say(&mut self, line: &str, expect: &str) -> String {
        writeln!(self.stdin, "{line}").unwrap();
        let mut got = String::new();
        loop {
            let next = self.lines.recv_timeout(Duration::from_secs(20));
            let next =
                next.unwrap_or_else(|_| panic!("no `{expect}` after `{line}`; output so far:\n{}{got}", self.seen));
            got.push_str(&next);
            got.push('\n');
            if next.contains(expect) {
                self.seen.push_str(&got);
                return got;
            }
        }
    }
}

fn code(secret: &[u8], steps_ahead: i64) -> String {
    palisade_testkit::totp::code_now(secret, steps_ahead)
}

#[test]
fn enrol_then_transfer_with_step_up_then_replay_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bot.toml");
    let body = format!(
        "[store]\npath = \"{}\"\nmaster_key_file = \"{}\"\ncreate_key_file = true\n[logging]\nlevel = \"error\"\n\
         [adapters.console]\nuser = \"alice\"\n[plugins.bank]\n[stepup]\nissuer = \"Test Bank\"\ngrant_ttl = \"1s\"\n",
        dir.path().join("data").display(),
        dir.path().join("master.key").display()
    );
    std::fs::write(&config, body).unwrap();
    let mut c = Console::start(config.to_str().unwrap());

    let setup = c.say("/2fa setup", "send the 6-digit code");
    assert!(setup.contains("otpauth://totp/Test%20Bank:console%20alice?secret="), "{setup}");
    let secret = base32(setup.split("by hand: ").nth(1).unwrap().split(')').next().unwrap());
    c.say(&code(&secret, 0), "Two-factor verification is on.");

    c.say("/transfer", "How much");
    c.say("10", "Who should receive it?");
    c.say("Bob", "[1] Confirm  [2] Cancel");
    c.say("1", "To confirm bank.transfer");
    let used = code(&secret, 1);
    c.say(&used, "Sent 10.00 to Bob. Your balance is 990.00.");

    std::thread::sleep(Duration::from_millis(1_500)); // the 1 s grant runs out
    c.say("/transfer", "How much");
    c.say("5", "Who should receive it?");
    c.say("Carol", "[1] Confirm");
    c.say("1", "To confirm bank.transfer");
    c.say(&used, "That code was already used.");
    c.say("/cancel", "Cancelled your transfer.");
    c.say("/balance", "Your balance is 990.00.");

    drop(c.stdin);
    assert!(c.child.wait().unwrap().success());
    assert!(!c.seen.contains(&format!("bot> {used}")), "the code is never echoed");
}
