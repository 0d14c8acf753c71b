//! One person across platforms: a Telegram and a Slack identity linked with a one-time code share one
//! two-factor enrolment (and its replay protection), one export and one erasure; grants stay per
//! conversation; unlinking splits them; wrong codes are throttled like wrong verification codes.

use std::sync::Arc;
use std::time::Duration;

use palisade::config::{IdentitySettings, Settings};
use palisade::event::{ChatKind, ChatRef, Event, Platform, UserRef};
use palisade::store::{SharedStore, Subject};
use palisade_notes::Notes;

use crate::support::probe::Probe;
use crate::support::{Harness, sled_store, text_of};

fn tg() -> UserRef {
    UserRef::new(Platform::TELEGRAM, "100200300")
}

fn sl() -> UserRef {
    UserRef::new(Platform::SLACK, "T0001AAAA/U0001BBBB")
}

fn dc() -> UserRef {
    UserRef::new(Platform::DISCORD, "80351110224678912")
}

fn dm(user: &UserRef, text: &str) -> Event {
    Event::text(user.clone(), ChatRef::new(user.platform, user.id.clone(), ChatKind::Direct), text)
}

async fn bot(store: SharedStore, identity: IdentitySettings) -> Harness {
    let settings = Settings { identity, ..Settings::default() };
    let plugins: Vec<Arc<dyn palisade::Plugin>> = vec![Probe::shared(), Arc::new(Notes::default())];
    Harness::bot(plugins, store, settings).await
}

/// Sends `text` as `user` in their DM; the texts of every reply (to anyone) delivered meanwhile.
async fn say(h: &Harness, user: &UserRef, text: &str) -> Vec<String> {
    h.send(dm(user, text)).await
}

/// Enrols `user` through the chat; returns the secret.
async fn enrol(h: &Harness, user: &UserRef) -> Vec<u8> {
    let shown = say(h, user, "/2fa setup").await.join("\n");
    let secret = palisade_testkit::totp::secret_from_setup(&shown);
    let done = say(h, user, &h.code(&secret, 0)).await.join("\n");
    assert!(done.contains("Two-factor verification is on."), "{done}");
    secret
}

/// The code of the next time step (time moves on 30 s first, so every code is a fresh one).
async fn fresh(h: &Harness, secret: &[u8]) -> String {
    tokio::time::advance(Duration::from_secs(30)).await;
    h.code(secret, 0)
}

/// The link code in `/link`'s answer.
fn code_in(texts: &[String]) -> String {
    let re = regex::Regex::new(r"\b[A-Z2-9]{5}-[A-Z2-9]{5}\b").unwrap();
    texts
        .iter()
        .find_map(|t| re.find(t).map(|m| m.as_str().to_string()))
        .unwrap_or_else(|| panic!("no code in {texts:?}"))
}

/// Sends `text` as `user`; every reply (to anyone) delivered meanwhile.
async fn send_all(h: &Harness, user: &UserRef, text: &str) -> Vec<palisade::Reply> {
    h.sink.submit_and_wait(dm(user, text)).await.unwrap();
    h.captured.take()
}

/// The text of the private notice to `user` among `replies`, or arriving shortly after (notices to the other
/// side of a link travel on their own lane).
async fn notice_to(h: &Harness, user: &UserRef, mut replies: Vec<palisade::Reply>) -> String {
    for _ in 0..100 {
        if let Some(r) = replies.iter().find(|r| &r.user == user) {
            assert!(r.private && r.chat.is_direct_with(user), "{r:?}");
            return text_of(r);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        replies = h.captured.take();
    }
    panic!("no notice reached {user}");
}

/// The texts of the replies to `user`.
fn texts_to(replies: &[palisade::Reply], user: &UserRef) -> Vec<String> {
    replies.iter().filter(|r| &r.user == user).map(text_of).collect()
}

#[tokio::test(start_paused = true)]
async fn linked_identities_share_two_factor_data_and_erasure() {
    palisade_testkit::logs::capture();
    let dir = tempfile::tempdir().unwrap();
    let store = sled_store(dir.path()).await;
    let h = bot(store.clone(), IdentitySettings::default()).await;
    let (tg, sl) = (tg(), sl());
    // Each has a note of their own, and the Telegram identity turns on two-factor verification.
    say(&h, &tg, "/note buy oat milk").await;
    assert_eq!(say(&h, &tg, "Groceries-MARKER-TG").await, ["Saved “Groceries-MARKER-TG”. /notes lists your notes."]);
    tokio::time::advance(Duration::from_millis(5)).await;
    say(&h, &sl, "/note call the plumber").await;
    say(&h, &sl, "Plumber-MARKER-SL").await;
    let secret = enrol(&h, &tg).await;

    // /link on Telegram needs step-up there first (it is enrolled), then shows a code privately.
    let asked = say(&h, &tg, "/link").await;
    assert!(asked[0].contains("To confirm identity.link"), "{asked:?}");
    let replies = send_all(&h, &tg, &fresh(&h, &secret).await).await;
    let shown = texts_to(&replies, &tg);
    let code = code_in(&shown);
    assert!(shown.iter().any(|t| t.contains("Within 10 minutes, send /link")), "{shown:?}");
    let carrying = replies.iter().find(|r| text_of(r).contains(&code)).unwrap();
    assert!(carrying.private, "the code is shown privately");
    assert_eq!(
        carrying.retract.as_ref().and_then(|r| r.within),
        Some(Duration::from_secs(600)),
        "and taken out of the chat when it expires"
    );

    // Typed on Slack (lower case, as a person might): linked, and Telegram is told privately.
    let replies = send_all(&h, &sl, &format!("/link {}", code.to_lowercase())).await;
    let linked = texts_to(&replies, &sl);
    assert!(linked.iter().any(|t| t.starts_with("Linked: you are one person here and on telegram")), "{linked:?}");
    let told = notice_to(&h, &tg, replies).await;
    assert!(told.contains("linked with your slack account"), "{told}");
    // The code worked once.
    let again = say(&h, &dc(), &format!("/link {code}")).await;
    assert!(again[0].contains("wrong, used or expired"), "{again:?}");

    // One enrolment: Slack is asked for a code, and the code of this step, used on Telegram, is refused there
    // as a replay; grants stay in their conversation.
    let asked = say(&h, &tg, "/secret on telegram").await;
    assert!(asked[0].contains("To confirm probe.secret"), "{asked:?}");
    let used = fresh(&h, &secret).await;
    assert_eq!(say(&h, &tg, &used).await, ["ran secret: on telegram"]);
    let asked = say(&h, &sl, "/secret on slack").await;
    assert!(asked[0].contains("To confirm probe.secret"), "Telegram's grant does not reach Slack: {asked:?}");
    let replayed = say(&h, &sl, &used).await;
    assert!(replayed[0].contains("already used"), "{replayed:?}");
    assert_eq!(say(&h, &sl, &fresh(&h, &secret).await).await, ["ran secret: on slack"]);

    // /mydata on Slack is the person's: both notes, both platforms.
    let asked = say(&h, &sl, "/mydata").await;
    assert!(asked[0].contains("To confirm privacy.export"), "{asked:?}");
    h.sink.submit_and_wait(dm(&sl, &fresh(&h, &secret).await)).await.unwrap();
    let data = h
        .captured
        .take()
        .into_iter()
        .find_map(|r| match r.body {
            palisade::ReplyBody::File { bytes, .. } => Some(String::from_utf8(bytes).unwrap()),
            _ => None,
        })
        .expect("the export arrives as a file");
    assert!(data.contains("Groceries-MARKER-TG") && data.contains("Plumber-MARKER-SL"), "{data}");
    assert!(data.contains("\"linked_identities\"") && data.contains("slack:T0001AAAA/U0001BBBB"), "{data}");
    assert!(data.contains("telegram:100200300"), "{data}");

    // /forget on Slack erases the person everywhere.
    say(&h, &sl, "/forget").await;
    let asked = h.press_as(&sl, "privacy:erase").await;
    assert!(asked.iter().any(|t| t.contains("To confirm privacy.forget")), "{asked:?}");
    let erased = say(&h, &sl, &fresh(&h, &secret).await).await;
    assert!(erased.iter().any(|t| t.contains("erased")), "{erased:?}");
    for user in [&tg, &sl] {
        for ns in ["notes", "core.stepup", "core.identity", "core.flows"] {
            assert!(store.list(ns, Some(&Subject::user(user))).await.unwrap().is_empty(), "{ns} of {user}");
        }
    }
    assert_eq!(say(&h, &tg, "/notes").await, ["You have no notes yet. Save one with /note <text>."]);
    assert!(!h.stepup().is_enrolled(&tg).await.unwrap(), "the shared enrolment went with the person");
    // Telegram's grant from before went too: the action is not let through on it.
    let after = say(&h, &tg, "/secret after erasure").await;
    assert!(after[0].contains("needs two-factor verification"), "{after:?}");
    h.stop().await;
    drop(store);
    for marker in ["Groceries-MARKER-TG", "Plumber-MARKER-SL", "100200300", "U0001BBBB", &code, &code.replace('-', "")]
    {
        assert!(!crate::support::any_file_contains(dir.path(), marker), "{marker} on disk");
    }
    assert!(!palisade_testkit::logs::text().contains(&code), "the link code is never logged");
}

#[tokio::test(start_paused = true)]
async fn unlinking_splits_the_person_and_wrong_codes_are_throttled() {
    let h = bot(crate::support::memory_store().await, IdentitySettings::default()).await;
    let (tg, sl, dc) = (tg(), sl(), dc());
    say(&h, &tg, "/note buy oat milk").await;
    say(&h, &tg, "Groceries").await;
    let code = code_in(&say(&h, &tg, "/link").await);
    let linked = texts_to(&send_all(&h, &sl, &format!("/link {code}")).await, &sl);
    assert!(linked.iter().any(|t| t.starts_with("Linked")), "{linked:?}");
    assert!(say(&h, &sl, "/notes").await[0].contains("Groceries"), "Slack sees the person's notes");

    // A block on one identity applies to the person: the other one is not answered either.
    let access = h.services().access.clone();
    access.set_blocked(&tg, true).await.unwrap();
    assert!(say(&h, &sl, "/notes").await.is_empty(), "blocked through the linked identity");
    access.set_blocked(&tg, false).await.unwrap();
    assert!(!say(&h, &sl, "/notes").await.is_empty());

    // Cross-platform confirmation is off: a code on Slack for an action waiting on Telegram is pointed there.
    let secret = enrol(&h, &sl).await;
    assert!(h.stepup().is_enrolled(&tg).await.unwrap(), "enrolled once, for both");
    say(&h, &tg, "/secret from telegram").await;
    let pointed = say(&h, &sl, &fresh(&h, &secret).await).await;
    assert!(pointed[0].contains("probe.secret is waiting for your code on telegram"), "{pointed:?}");
    assert_eq!(say(&h, &tg, &fresh(&h, &secret).await).await, ["ran secret: from telegram"]);

    // /unlink telegram, from Slack: step-up, then Telegram starts empty and the person keeps the notes.
    assert!(say(&h, &sl, "/unlink telegram").await[0].contains("To confirm identity.unlink"));
    let replies = send_all(&h, &sl, &fresh(&h, &secret).await).await;
    let done = texts_to(&replies, &sl);
    assert!(done.iter().any(|t| t.starts_with("Unlinked your telegram account")), "{done:?}");
    assert!(notice_to(&h, &tg, replies).await.contains("unlinked"));
    assert_eq!(say(&h, &tg, "/notes").await, ["You have no notes yet. Save one with /note <text>."]);
    assert!(say(&h, &sl, "/notes").await[0].contains("Groceries"));
    assert!(!h.stepup().is_enrolled(&tg).await.unwrap() && h.stepup().is_enrolled(&sl).await.unwrap());

    // Wrong link codes count like wrong verification codes: after five, guesses pause — even a right code.
    let real = code_in(&say(&h, &tg, "/link").await);
    for n in (0..5).rev() {
        let wrong = say(&h, &dc, "/link ABCDE-FGHJK").await;
        assert!(wrong[0].contains("wrong, used or expired"), "{wrong:?}");
        if n > 0 {
            assert!(wrong[0].contains(&format!("{n} more attempt(s)")), "{wrong:?}");
        }
    }
    let paused = say(&h, &dc, &format!("/link {real}")).await;
    assert!(paused[0].starts_with("Too many wrong codes. Try again in"), "{paused:?}");
    let trail = h.services().audit.entries_since(0).await.unwrap();
    assert_eq!(trail.iter().filter(|e| e.details.get("guess").is_some_and(|g| g == "link code")).count(), 5);
    assert!(trail.iter().any(|e| e.event == "identity.linked") && trail.iter().any(|e| e.event == "identity.unlinked"));
    for e in &trail {
        let line = serde_json::to_string(e).unwrap();
        assert!(!line.contains("100200300") && !line.contains("U0001BBBB"), "pseudonyms only: {line}");
    }
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn with_cross_platform_confirmation_on_a_code_on_one_platform_confirms_an_action_on_another() {
    let h = bot(crate::support::memory_store().await, IdentitySettings { cross_platform_confirm: true }).await;
    let (tg, sl) = (tg(), sl());
    let code = code_in(&say(&h, &tg, "/link").await);
    say(&h, &sl, &format!("/link {code}")).await;
    let secret = enrol(&h, &tg).await;
    say(&h, &tg, "/secret asked on telegram").await;
    let confirmed = say(&h, &sl, &fresh(&h, &secret).await).await;
    assert!(confirmed.contains(&"ran secret: asked on telegram".to_string()), "{confirmed:?}");
    // The grant belongs to the conversation the action was asked in.
    assert_eq!(say(&h, &tg, "/secret again").await, ["ran secret: again"]);
    assert!(say(&h, &sl, "/secret here").await[0].contains("To confirm probe.secret"));
    h.stop().await;
}
