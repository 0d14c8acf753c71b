//! Step-up verification through the real dispatcher: enrolment, suspension and exact resumption, replay,
//! lockout across restarts, recovery codes, groups, grant expiry, and no secrets in logs.

use std::time::Duration;

use crate::support::memory_store;
use crate::support::stepup::start;
use palisade::config::StepUpSettings;
use palisade::stepup::totp::Code;
use palisade::{ChatKind, ChatRef, Platform, ReplyBody};

fn short_grants() -> StepUpSettings {
    StepUpSettings { grant_ttl: Duration::from_secs(60), ..StepUpSettings::default() }
}

#[tokio::test(start_paused = true)]
async fn a_suspended_action_resumes_exactly_as_asked() {
    let bot = start(memory_store().await, short_grants()).await;
    let (secret, _) = bot.enrol("ann").await;
    let asked = bot.h.say("ann", "/secret keep  these   words").await;
    assert_eq!(asked.len(), 1);
    assert!(asked[0].starts_with("<code prompt> To confirm probe.secret"), "{asked:?}");
    assert_eq!(bot.h.say("ann", &bot.code(&secret, 1)).await, ["ran secret: keep  these   words"]);
    tokio::time::advance(Duration::from_secs(60)).await;
    // The bank flow: the confirmation is the checkpoint; the transfer happens once, after the code.
    bot.h.say("ann", "/transfer").await;
    bot.h.say("ann", "12.50").await;
    bot.h.say("ann", "Alice").await;
    let asked = bot.h.press("ann", "bank:confirm").await;
    assert!(asked[0].contains("To confirm bank.transfer"), "{asked:?}");
    assert_eq!(bot.h.say("ann", "/balance").await, ["Send your verification code first, or /cancel."]);
    assert_eq!(bot.h.say("ann", &bot.code(&secret, 0)).await, ["Sent 12.50 to Alice. Your balance is 987.50."]);
    assert_eq!(bot.h.say("ann", "/balance").await, ["Your balance is 987.50."]);
    bot.h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_transfer_typed_in_one_line_skips_the_questions_and_still_needs_its_code() {
    let bot = start(memory_store().await, StepUpSettings::default()).await;
    let (secret, _) = bot.enrol("ann").await;
    let usage = bot.h.say("ann", "/transfer lots").await;
    assert!(
        usage[0].starts_with("`amount` must be an amount like 25 or 25.50. Usage: /transfer [amount] [to]"),
        "{usage:?}"
    );
    assert_eq!(bot.h.say("ann", "/transfer 5000").await, ["That is more than your balance of 1000.00. How much?"]);
    assert_eq!(bot.h.say("ann", "/cancel").await, ["Cancelled your transfer."]);
    assert_eq!(bot.h.say("ann", "/transfer 12.50 Alice").await, ["Send 12.50 to Alice?"]);
    let asked = bot.h.press("ann", "bank:confirm").await;
    assert!(asked[0].contains("To confirm bank.transfer"), "{asked:?}");
    tokio::time::advance(Duration::from_secs(31)).await;
    assert_eq!(bot.h.say("ann", &bot.code(&secret, 0)).await, ["Sent 12.50 to Alice. Your balance is 987.50."]);
    bot.h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn replayed_codes_are_refused_and_grants_expire() {
    let settings = StepUpSettings { grant_ttl: Duration::from_secs(30), ..StepUpSettings::default() };
    let bot = start(memory_store().await, settings).await;
    let (secret, _) = bot.enrol("ann").await;
    bot.h.say("ann", "/secret").await;
    let code = bot.code(&secret, 1);
    assert_eq!(bot.h.say("ann", &code).await, ["ran secret"]);
    assert_eq!(bot.h.say("ann", "/secret").await, ["ran secret"], "the grant covers the next 30 s");
    // 31 s later the grant is gone, and `code` (one step ahead then) is still inside the skew window.
    tokio::time::advance(Duration::from_secs(31)).await;
    assert!(bot.h.say("ann", "/secret").await[0].starts_with("<code prompt>"), "the grant expired");
    assert_eq!(
        bot.h.say("ann", &code).await,
        ["That code was already used. Wait for the next code in your app and send it."]
    );
    assert_eq!(bot.h.say("ann", &bot.code(&secret, 1)).await, ["ran secret"], "a later step's code works");
    bot.h.stop().await;
}

#[tokio::test]
async fn a_grant_does_not_carry_over_to_another_chat() {
    let bot = start(memory_store().await, short_grants()).await;
    let (secret, _) = bot.enrol("ann").await;
    bot.h.say("ann", "/secret").await;
    bot.h.say("ann", &bot.code(&secret, 1)).await;
    let mut elsewhere = crate::support::event("ann", "/secret");
    elsewhere.chat = ChatRef::new(Platform::CONSOLE, "other-chat", ChatKind::Direct);
    let asked = bot.h.send(elsewhere).await;
    assert!(asked[0].starts_with("<code prompt>"), "{asked:?}");
    bot.h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_sensitive_command_in_a_group_is_confirmed_privately_and_answered_in_the_group() {
    let bot = start(memory_store().await, short_grants()).await;
    let (secret, _) = bot.enrol("ann").await;
    let group = ChatRef::new(Platform::CONSOLE, "team-room", ChatKind::Group);
    let mut in_group = crate::support::event("ann", "/secret from the group");
    in_group.chat = group.clone();
    bot.h.sink.submit_and_wait(in_group).await.unwrap();
    let replies = bot.h.captured.take();
    assert_eq!(replies.len(), 2);
    assert!(replies[0].private && matches!(replies[0].body, ReplyBody::CodePrompt { .. }));
    assert_eq!(crate::support::text_of(&replies[1]), "I sent you a private message to confirm this.");
    assert!(!replies[1].private);
    // A code typed in the group is not taken, and the user is warned.
    let mut code_in_group = crate::support::event("ann", &bot.code(&secret, 1));
    code_in_group.chat = group.clone();
    assert_eq!(
        bot.h.send(code_in_group).await,
        [
            "Never post codes in a group. Send it to me in our private chat; if that was your current code, wait for the next one."
        ]
    );
    // The exposed code is burned: it no longer works even in private.
    let refused = bot.h.say("ann", &bot.code(&secret, 1)).await;
    assert_eq!(refused, ["That code was already used. Wait for the next code in your app and send it."]);
    tokio::time::advance(Duration::from_secs(30)).await;
    bot.h.sink.submit_and_wait(crate::support::event("ann", &bot.code(&secret, 1))).await.unwrap();
    let replies = bot.h.captured.take();
    assert_eq!(replies.len(), 1);
    assert_eq!(crate::support::text_of(&replies[0]), "ran secret: from the group");
    assert_eq!(replies[0].chat, group, "the resumed action answers where it was asked");
    bot.h.stop().await;
}

#[tokio::test]
async fn unenrolled_users_are_told_how_to_enrol_and_cancel_drops_the_action() {
    let bot = start(memory_store().await, short_grants()).await;
    let r = bot.h.say("bob", "/secret").await;
    assert_eq!(
        r,
        [
            "probe.secret needs two-factor verification. Turn it on with /2fa setup in a private chat with me (send /cancel first if you are in the middle of something), then try again."
        ]
    );
    bot.enrol("bob").await;
    bot.h.say("bob", "/secret").await;
    assert_eq!(bot.h.say("bob", "/cancel").await, ["Cancelled: probe.secret was not done."]);
    assert_eq!(bot.h.say("bob", "123456").await, ["I only understand commands. Send /help to see what I can do."]);
    bot.h.stop().await;
}

#[tokio::test]
async fn recovery_codes_work_once_and_the_user_is_told() {
    let bot = start(memory_store().await, short_grants()).await;
    let (_, codes) = bot.enrol("ann").await;
    assert_eq!(codes.len(), 10);
    bot.h.say("ann", "/secret").await;
    let r = bot.h.say("ann", &codes[0]).await;
    assert_eq!(r[0], "You used a recovery code; 9 left. If that was not you, run /2fa setup now.");
    assert_eq!(r[1], "ran secret");
    let mut other = crate::support::event("ann", "/secret");
    other.chat.id = "second".into();
    bot.h.send(other.clone()).await;
    other.kind = palisade::EventKind::Text(codes[0].clone());
    assert_eq!(bot.h.send(other).await, ["Wrong code. 4 more tries before verification pauses."]);
    bot.h.stop().await;
}

#[tokio::test]
async fn lockout_persists_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let secret;
    {
        let bot = start(crate::support::sled_store(dir.path()).await, short_grants()).await;
        secret = bot.enrol("ann").await.0;
        bot.h.say("ann", "/secret").await;
        for _ in 0..4 {
            assert!(bot.h.say("ann", "000000").await[0].starts_with("Wrong code."));
        }
        let paused = bot.h.say("ann", "000000").await;
        assert_eq!(paused, ["Wrong code. Too many wrong codes: verification is paused for a while."]);
        bot.h.stop().await;
    }
    let bot = start(crate::support::sled_store(dir.path()).await, short_grants()).await;
    let r = bot.h.say("ann", &bot.code(&secret, 1)).await;
    assert!(r[0].starts_with("Verification is paused after wrong codes; try again in"), "{r:?}");
    bot.h.stop().await;
}

#[test]
fn codes_from_an_independent_implementation_are_accepted() {
    // Python's standard library (hmac, hashlib, struct) computes RFC 6238 codes for a random secret.
    let secret = palisade::crypto::random_bytes(20).unwrap();
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let script = "import hmac,hashlib,struct,sys\nk=bytes.fromhex(sys.argv[1])\nfor t in map(int, sys.argv[2:]):\n h=hmac.new(k,struct.pack('>Q',t//30),hashlib.sha1).digest();o=h[-1]&15\n print(str((struct.unpack('>I',h[o:o+4])[0]&0x7fffffff)%1000000).zfill(6))";
    let times: Vec<String> = (0..20).map(|i| (1_700_000_000u64 + i * 4_567).to_string()).collect();
    let out = std::process::Command::new("python3")
        .args(["-c", script, &hex])
        .args(&times)
        .output()
        .expect("python3 is needed for this cross-check (the CI installs it)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let codes: Vec<String> = String::from_utf8(out.stdout).unwrap().lines().map(str::to_string).collect();
    assert_eq!(codes.len(), times.len());
    let ours = Code::standard(&secret, 1).unwrap();
    for (t, code) in times.iter().zip(&codes) {
        let t: u64 = t.parse().unwrap();
        assert_eq!(ours.matching_step(code, t), Some(t / 30), "python's code at {t}");
        assert!(ours.matching_step(code, t + 30).is_some(), "within one step of skew");
        assert_eq!(ours.matching_step(code, t + 65), None, "two steps later it is refused");
    }
}

#[tokio::test(start_paused = true)]
async fn the_conversation_is_frozen_while_an_action_waits_for_its_code() {
    let bot = start(memory_store().await, short_grants()).await;
    let (secret, _) = bot.enrol("ann").await;
    let group = ChatRef::new(Platform::CONSOLE, "team-room", ChatKind::Group);
    let in_group = |text: &str| {
        let mut e = crate::support::event("ann", text);
        e.chat = group.clone();
        e
    };
    bot.h.send(in_group("/secret the approved words")).await;
    // Someone at the keyboard tries to change what the code will confirm.
    let frozen = bot.h.send(in_group("/args other words")).await;
    assert_eq!(frozen, ["Finish the verification first: send your code in our private chat, or /cancel."]);
    let done = bot.h.say("ann", &bot.code(&secret, 1)).await;
    assert_eq!(done, ["ran secret: the approved words"], "exactly the approved action runs");
    assert_eq!(bot.h.send(in_group("/args a b")).await, ["first=a rest=b"], "unfrozen afterwards");
    bot.h.stop().await;
}

fn in_group(user: &str, text: &str) -> palisade::Event {
    let chat = ChatRef::new(Platform::CONSOLE, "team", ChatKind::Group);
    palisade::Event::text(palisade_testkit::user(user), chat, text)
}

fn pressed_in_group(bot: &crate::support::stepup::Bot, user: &str, data: &str) -> palisade::Event {
    let mut e = in_group(user, "");
    e.kind = bot.h.pressed(user, data).kind;
    e
}

/// A transfer asked in a group, suspended at Confirm; a second tap on Confirm and the code race each other,
/// and two codes (one from a private form, one typed in the DM) race each other: money moves once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_action_runs_once_however_the_confirmations_race() {
    let bot = start(memory_store().await, short_grants()).await;
    let (secret, _) = bot.enrol("ann").await;
    for text in ["/transfer", "10", "Bob"] {
        bot.h.send(in_group("ann", text)).await;
    }
    let asked = bot.h.send(pressed_in_group(&bot, "ann", "bank:confirm")).await.join("\n");
    assert!(asked.contains("To confirm bank.transfer"), "{asked}");
    let mut in_form = palisade_testkit::event("ann", &bot.code(&secret, 0));
    in_form.private_input = true;
    let (tap, form, typed) = tokio::join!(
        bot.h.sink.submit_and_wait(pressed_in_group(&bot, "ann", "bank:confirm")),
        bot.h.sink.submit_and_wait(in_form),
        bot.h.sink.submit_and_wait(palisade_testkit::event("ann", &bot.code(&secret, 1))),
    );
    tap.unwrap();
    form.unwrap();
    typed.unwrap();
    let said: Vec<String> = bot.h.captured.take().iter().map(palisade_testkit::text_of).collect();
    let sent = said.iter().filter(|t| t.starts_with("Sent 10.00 to Bob")).count();
    assert_eq!(sent, 1, "{said:?}");
    assert_eq!(bot.h.say("ann", "/balance").await, ["Your balance is 990.00."]);
    let audit = bot.h.services().audit.entries_since(0).await.unwrap();
    assert_eq!(audit.iter().filter(|e| e.event == "bank.transfer").count(), 1);
    bot.h.stop().await;
}

/// The dangerous moment: the code was accepted and the action claimed, and the process dies before the
/// action ran. After the restart nothing waits for a code any more, so no later code can run it (twice).
#[tokio::test]
async fn an_action_claimed_before_a_crash_is_never_run_again() {
    let dir = tempfile::tempdir().unwrap();
    let secret;
    {
        let bot = start(crate::support::sled_store(dir.path()).await, short_grants()).await;
        secret = bot.enrol("ann").await.0;
        bot.h.say("ann", "/secret once").await;
        let stepup = bot.h.stepup().clone();
        let pending = stepup.pending().load(&palisade_testkit::user("ann")).await.unwrap().unwrap();
        let verified = stepup.verify_pending(&pending, &bot.code(&secret, 1)).await.unwrap();
        assert_eq!(verified, palisade::stepup::Verified::Attempted(palisade::stepup::Outcome::Accepted));
        // "Crash": the claimed action is never handed back in; everything is dropped.
        drop(stepup);
        bot.h.stop().await;
    }
    let bot = start(crate::support::sled_store(dir.path()).await, short_grants()).await;
    let answer = bot.h.say("ann", &bot.code(&secret, 2)).await;
    assert!(!answer.iter().any(|t| t.contains("ran secret")), "{answer:?}");
    assert_eq!(bot.h.say("ann", "/secret again").await.len(), 1, "a new request asks for a new code");
    bot.h.stop().await;
}

/// A recovery code posted in a group is revoked like a code: it no longer works, even in private, and the
/// user is told how many are left.
#[tokio::test]
async fn a_recovery_code_posted_in_a_group_is_revoked() {
    let bot = start(memory_store().await, short_grants()).await;
    let (_, recovery) = bot.enrol("ann").await;
    bot.h.send(in_group("ann", "/secret")).await;
    let warned = bot.h.send(in_group("ann", &recovery[0])).await;
    assert_eq!(warned.len(), 1);
    assert!(warned[0].contains("That recovery code was seen there, so it no longer works (9 left)"), "{warned:?}");
    let refused = bot.h.say("ann", &recovery[0]).await;
    assert!(!refused.iter().any(|t| t.contains("ran secret")), "a revoked code does not verify: {refused:?}");
    let audit = bot.h.services().audit.entries_since(0).await.unwrap();
    assert!(audit.iter().any(|e| e.event == "stepup.code_exposed" && e.details["kind"] == "recovery code"));
    bot.h.stop().await;
}

/// The second factor leaves the chat: setup messages when setup is confirmed, the recovery codes when the
/// user says they are saved or, at the latest, after `secret_message_ttl`.
#[tokio::test(start_paused = true)]
async fn second_factor_messages_are_taken_back() {
    let settings = StepUpSettings { secret_message_ttl: Duration::from_secs(600), ..short_grants() };
    let bot = start(memory_store().await, settings).await;
    let shown = bot.h.say("ann", "/2fa setup").await;
    assert_eq!(shown.len(), 3, "{shown:?}");
    let secret = palisade_testkit::totp::secret_from_setup(&shown.join("\n"));
    let done = bot.h.say("ann", &bot.h.code(&secret, 0)).await;
    // Capture numbers its messages m1, m2, …: the key text and the QR code (m1, m2) are deleted at once.
    assert_eq!(&done[..2], ["<delete m1>", "<delete m2>"], "{done:?}");
    assert!(done[2].starts_with("Two-factor verification is on."));
    // Nobody presses "I have saved them": ten minutes later the codes are deleted anyway.
    tokio::time::sleep(Duration::from_secs(601)).await;
    let later: Vec<String> = bot.h.captured.take().iter().map(palisade_testkit::text_of).collect();
    assert!(later.iter().any(|t| t.starts_with("<delete m")), "{later:?}");
    bot.h.stop().await;
}

/// Runs the bank flow up to its confirmation and presses Confirm; returns what the bot answered.
async fn transfer(bot: &crate::support::stepup::Bot, amount: &str, to: &str) -> Vec<String> {
    bot.h.say("ann", "/transfer").await;
    bot.h.say("ann", amount).await;
    bot.h.say("ann", to).await;
    bot.h.press("ann", "bank:confirm").await
}

#[tokio::test(start_paused = true)]
async fn a_transfer_is_approved_with_its_details_and_each_needs_its_own_code() {
    let bot = start(memory_store().await, short_grants()).await;
    let (secret, _) = bot.enrol("ann").await;
    let asked = transfer(&bot, "12.50", "Alice").await;
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(
        asked[0].starts_with("<code prompt> To confirm bank.transfer:\n• amount: 12.50\n• to: Alice\n"),
        "{asked:?}"
    );
    assert!(asked[0].contains("approves exactly this, once"), "{asked:?}");
    assert_eq!(bot.h.say("ann", &bot.code(&secret, 1)).await, ["Sent 12.50 to Alice. Your balance is 987.50."]);
    // Within grant_ttl, a second transfer still needs its own code (a grant would have covered it).
    let asked = transfer(&bot, "900", "Mallory").await;
    assert!(
        asked[0].starts_with("<code prompt> To confirm bank.transfer:\n• amount: 900.00\n• to: Mallory"),
        "{asked:?}"
    );
    assert_eq!(
        bot.h.say("ann", "/cancel").await,
        ["Cancelled: bank.transfer was not done.", "Cancelled your transfer."]
    );
    assert_eq!(bot.h.say("ann", "/balance").await, ["Your balance is 987.50."]);
    bot.h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn changed_details_need_a_new_code() {
    use std::sync::atomic::Ordering;
    let bot = start(memory_store().await, short_grants()).await;
    let (secret, _) = bot.enrol("ann").await;
    let asked = bot.h.say("ann", "/pay").await;
    assert!(asked[0].contains("• amount: 5\n• to: the shop"), "{asked:?}");
    // The price changes between the prompt and the code: the code approved 5, so 7 is not paid.
    bot.probe.price.store(7, Ordering::SeqCst);
    let answer = bot.h.say("ann", &bot.code(&secret, 1)).await;
    assert_eq!(answer[0], "The details changed since you approved them; nothing was done.", "{answer:?}");
    assert!(answer[1].contains("• amount: 7"), "asked again with the new details: {answer:?}");
    assert_eq!(bot.probe.paid.load(Ordering::SeqCst), 0);
    tokio::time::advance(Duration::from_secs(30)).await;
    assert_eq!(bot.h.say("ann", &bot.code(&secret, 1)).await, ["paid 7"]);
    assert_eq!(bot.probe.paid.load(Ordering::SeqCst), 1);
    bot.h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn the_operator_can_make_a_scope_single_use() {
    let settings = StepUpSettings { single_use: vec!["probe.secret".into()], ..short_grants() };
    let bot = start(memory_store().await, settings).await;
    let (secret, _) = bot.enrol("ann").await;
    let asked = bot.h.say("ann", "/secret").await;
    assert!(asked[0].contains("It approves this action once."), "{asked:?}");
    assert_eq!(bot.h.say("ann", &bot.code(&secret, 1)).await, ["ran secret"]);
    assert!(bot.h.say("ann", "/secret").await[0].starts_with("<code prompt>"), "no grant was left behind");
    tokio::time::advance(Duration::from_secs(30)).await;
    assert_eq!(bot.h.say("ann", &bot.code(&secret, 1)).await, ["ran secret"]);
    bot.h.stop().await;
}

/// A plugin answering free text behind step-up: "show my balance" is sensitive, like a command would be.
struct Whisper;

#[palisade::async_trait]
impl palisade::Plugin for Whisper {
    fn name(&self) -> &'static str {
        "whisper"
    }

    fn commands(&self) -> Vec<palisade::Command> {
        Vec::new()
    }

    fn matchers(&self) -> Vec<palisade::Matcher> {
        vec![palisade::Matcher::pattern("reveal", r"(?i)^show my (\w+)$").sensitive()]
    }

    async fn command(&self, _: &str, _: &mut palisade::Ctx) -> Result<(), palisade::PluginError> {
        Ok(())
    }

    async fn text(&self, _: &str, ctx: &mut palisade::Ctx) -> Result<(), palisade::PluginError> {
        let what = ctx.matched().map(|m| m.captures[1].clone()).unwrap_or_default();
        ctx.reply(format!("revealed {what}"));
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn free_text_a_matcher_marks_sensitive_runs_only_after_a_code() {
    let plugins: Vec<std::sync::Arc<dyn palisade::Plugin>> = vec![std::sync::Arc::new(Whisper)];
    let h = crate::support::Harness::bot(plugins, memory_store().await, palisade::config::Settings::default()).await;
    let refused = h.say("ann", "show my balance").await;
    assert!(refused[0].contains("whisper.reveal needs two-factor verification"), "{refused:?}");
    let enrolled = h.enrol("ann").await;
    let asked = h.say("ann", "Show my balance").await;
    assert!(asked[0].contains("To confirm whisper.reveal"), "{asked:?}");
    tokio::time::advance(Duration::from_secs(31)).await;
    assert_eq!(h.say("ann", &h.code(&enrolled.secret, 0)).await, ["revealed balance"]);
    h.stop().await;
}
