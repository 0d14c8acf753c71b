//! Staff access: roles by immutable id, admin commands behind step-up and audited, blocking, rate limits.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::support::probe::Probe;
use crate::support::{Harness, memory_store};
use palisade::audit::Audit;
use palisade::config::{Rate, RateLimitSettings, Settings};
use palisade::{ChatKind, ChatRef, Event, Platform, UserRef};

struct Staff {
    h: Harness,
    audit: Arc<Audit>,
}

async fn staff(limits: Option<RateLimitSettings>) -> Staff {
    let roles = BTreeMap::from([("admin".to_string(), vec!["console:root".to_string(), "slack:T1/U1".to_string()])]);
    // Without limits given, the limits are off (counts of 0), so a test's many messages are never refused.
    let off = Rate { count: 0, per: Duration::from_secs(1) };
    let ratelimit = limits.unwrap_or(RateLimitSettings { per_user: off, per_conversation: off, global: off });
    let settings = Settings { roles, ratelimit, ..Settings::default() };
    let h = Harness::bot(vec![Probe::shared()], memory_store().await, settings).await;
    let audit = h.services().audit.clone();
    Staff { h, audit }
}

fn on(platform: Platform, id: &str, text: &str) -> Event {
    let user = UserRef::new(platform, id);
    Event::text(user, ChatRef::new(platform, format!("dm-{id}"), ChatKind::Direct), text)
}

impl Staff {
    async fn enrol(&self, id: &str) -> Vec<u8> {
        self.h.enrol(id).await.secret
    }

    fn code(&self, secret: &[u8], steps: i64) -> String {
        self.h.code(secret, steps)
    }
}

#[tokio::test]
async fn only_admins_by_id_may_use_admin_commands_on_any_platform() {
    let s = staff(None).await;
    for (platform, id) in
        [(Platform::TELEGRAM, "1"), (Platform::DISCORD, "80351110224678912"), (Platform::SLACK, "T1/U2")]
    {
        let r = s.h.send(on(platform, id, "/admin audit")).await;
        assert_eq!(r, ["You are not allowed to use /admin."], "{platform}");
    }
    let mut impostor = crate::support::event("mallory", "/admin audit");
    impostor.display_name = Some("root".into());
    assert_eq!(s.h.send(impostor).await, ["You are not allowed to use /admin."]);
    let refusals = s.audit.entries_since(0).await.unwrap().into_iter().filter(|e| e.event == "access.refused");
    let refusals: Vec<_> = refusals.collect();
    assert_eq!(refusals.len(), 4, "every refused attempt is audited");
    assert!(refusals.iter().all(|e| e.actor.is_some() && e.details["role"] == "admin"));
    let mallory = s.audit.pseudonym(&palisade_testkit::user("mallory")).await.unwrap();
    assert_eq!(refusals[3].actor.as_deref(), Some(mallory.as_str()), "under the impostor's pseudonym, not a name");
    // The Slack admin is recognised by team/user id, and must still verify first.
    let r = s.h.send(on(Platform::SLACK, "T1/U1", "/admin audit")).await;
    assert!(r[0].contains("needs two-factor verification"), "{r:?}");
    s.h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_admin_verifies_then_resets_a_users_two_factor_and_it_is_audited() {
    let s = staff(None).await;
    s.enrol("victim").await;
    let root = s.enrol("root").await;
    let asked = s.h.say("root", "/admin reset2fa console:victim").await;
    assert!(asked[0].starts_with("<code prompt> To confirm admin.admin"), "{asked:?}");
    let done = s.h.say("root", &s.code(&root, 1)).await;
    assert_eq!(done, ["Two-factor verification of console:victim was reset."]);
    let r = s.h.say("root", "/admin 2fa console:victim").await;
    assert_eq!(r, ["console:victim: two-factor verification is off."], "the grant covers the next admin action");
    let reset = s.audit.entries_since(0).await.unwrap().into_iter().find(|e| e.event == "admin.reset_2fa").unwrap();
    assert_eq!(reset.details["target"], s.audit.pseudonym(&UserRef::new(Platform::CONSOLE, "victim")).await.unwrap());
    assert_eq!(reset.actor, Some(s.audit.pseudonym(&UserRef::new(Platform::CONSOLE, "root")).await.unwrap()));
    s.h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_blocked_user_is_ignored_until_unblocked() {
    let s = staff(None).await;
    let root = s.enrol("root").await;
    s.h.say("root", "/admin block console:spammer").await;
    assert_eq!(s.h.say("root", &s.code(&root, 1)).await, ["console:spammer blocked."]);
    assert!(s.h.say("spammer", "/args a b").await.is_empty(), "silently dropped");
    assert_eq!(s.h.say("root", "/admin unblock console:spammer").await, ["console:spammer unblocked."]);
    assert_eq!(s.h.say("spammer", "/args a b").await, ["first=a rest=b"]);
    s.h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_flood_from_one_user_is_limited_while_others_are_served() {
    let minute = Duration::from_secs(60);
    let limits = RateLimitSettings {
        per_user: Rate { count: 5, per: minute },
        per_conversation: Rate { count: 0, per: minute },
        global: Rate { count: 0, per: minute },
    };
    let s = staff(Some(limits)).await;
    let mut answers = Vec::new();
    for _ in 0..10 {
        answers.push(s.h.say("flooder", "/args a b").await);
    }
    assert!(answers[..5].iter().all(|r| r == &["first=a rest=b"]));
    assert_eq!(answers[5], ["You are sending messages faster than I can answer. Please wait a moment."]);
    assert!(answers[6..].iter().all(Vec::is_empty), "one notice, then silence");
    assert_eq!(s.h.say("neighbour", "/args c d").await, ["first=c rest=d"]);
    tokio::time::advance(minute).await;
    assert_eq!(s.h.say("flooder", "/args a b").await, ["first=a rest=b"], "the bucket refilled");
    s.h.stop().await;
}
