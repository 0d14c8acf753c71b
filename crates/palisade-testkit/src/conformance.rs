//! The adapter conformance suite: what every platform adapter must do, checked the same way on each
//! adapter's own fake of its platform.
//!
//! An adapter's test implements [`Subject`] (how a user's actions reach the bot on that platform, and what
//! the bot sent back), starts the adapter with [`start`] (the whole runtime stack with the
//! [`ConformancePlugin`], users enrolled in two-factor verification), and calls [`run`]. It checks:
//!
//! - a delivery the platform repeats (a retry, a replay) is handled once;
//! - a request that fails authentication is refused and reported, and nothing is sent for it;
//! - a private reply asked for in a group reaches only the user;
//! - the verification code prompt of a sensitive command asked in a group reaches only the user;
//! - a reply longer than the platform's limit arrives split into messages within the limit, nothing lost;
//! - none of the adapter's secrets reaches the logs.

use std::sync::Arc;

use async_trait::async_trait;
use palisade::bot::Services;
use palisade::clock::TokioClock;
use palisade::config::Settings;
use palisade::store::SharedStore;
use palisade_core::prelude::*;
use palisade_core::{Adapter, UserRef};

use crate::running::Running;

/// What the private reply says.
pub const WHISPER: &str = "only for you";

/// One message the bot sent to the platform, as the platform would show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    /// Only the user it answers can see it: their direct chat with the bot, an ephemeral message, a form.
    pub private: bool,
    /// Its text (for a form, its title and label).
    pub text: String,
}

/// An inbound delivery as the subject made it, so it can be delivered again byte for byte.
#[derive(Clone, Debug)]
pub struct Delivery(pub serde_json::Value);

/// One adapter on its fake platform, as the suite drives it.
#[async_trait]
pub trait Subject: Send + Sync {
    /// The identity of test user `n` (1, 2, 3) on this platform.
    fn user(&self, n: u32) -> UserRef;
    /// The secrets the adapter was configured with (tokens, signing secrets).
    fn secrets(&self) -> Vec<String>;
    /// The longest text the platform takes in one message.
    fn max_len(&self) -> usize;
    /// User `n` writes `text` in their direct chat with the bot.
    async fn direct(&self, n: u32, text: &str) -> Delivery;
    /// User `n` writes `text` in a group chat with other people.
    async fn group(&self, n: u32, text: &str) -> Delivery;
    /// Delivers `delivery` again, exactly as before.
    async fn repeat(&self, delivery: &Delivery);
    /// Sends a request that fails authentication; false when the adapter's mode has no inbound endpoint.
    async fn forge(&self) -> bool;
    /// Everything sent since the previous call, waiting until `until` is satisfied (or failing the test).
    async fn sent(&self, until: &(dyn for<'s> Fn(&'s [Sent]) -> bool + Sync)) -> Vec<Sent>;
}

/// A plugin with one command per thing the suite checks.
#[derive(Debug, Default)]
pub struct ConformancePlugin;

#[async_trait]
impl Plugin for ConformancePlugin {
    fn name(&self) -> &'static str {
        "conformance"
    }

    fn commands(&self) -> Vec<Command> {
        vec![
            Command::new("say", "Repeat the text").arg(Arg::text("text")),
            Command::new("whisper", "Answer privately"),
            Command::new("long", "Answer with a text longer than one message"),
            Command::new("guarded", "A sensitive command").sensitive(),
        ]
    }

    async fn command(&self, command: &str, ctx: &mut Ctx) -> Result<(), PluginError> {
        match command {
            "say" => {
                let text = ctx.args().raw().to_string();
                ctx.reply(text);
            }
            "whisper" => ctx.reply_private(WHISPER),
            "long" => {
                let text = long_text(ctx.capabilities().max_message_len);
                ctx.reply(text);
            }
            _ => ctx.reply("guarded action done"),
        }
        Ok(())
    }
}

/// Numbered words filling two and a half messages of `max_len`.
pub fn long_text(max_len: usize) -> String {
    let mut text = String::new();
    let mut i = 0;
    while text.chars().count() < max_len * 5 / 2 {
        text.push_str(&format!("word{i} "));
        i += 1;
    }
    text.trim_end().to_string()
}

/// Runs `adapter` with the [`ConformancePlugin`] over `store`, `users` enrolled in two-factor verification.
///
/// # Panics
/// When the stack cannot be built or a user cannot be enrolled.
pub async fn start(adapter: Box<dyn Adapter>, store: SharedStore, users: &[UserRef]) -> Running {
    let clock = TokioClock::shared();
    let services = Services::new(store, clock.clone(), &Settings::default(), "palisade.toml".into())
        .await
        .unwrap_or_else(|e| panic!("the services build: {e}"));
    for user in users {
        enrol(&services, user, &*clock).await;
    }
    Running::with_services(adapter, services, vec![Arc::new(ConformancePlugin)])
}

/// Enrols `user` through the step-up service, with a code computed independently.
async fn enrol(services: &Services, user: &UserRef, clock: &dyn palisade::clock::Clock) {
    let setup = services.stepup.begin(user).await.unwrap_or_else(|e| panic!("setup starts: {e}"));
    let secret = crate::totp::base32(&setup.base32);
    let code = crate::totp::code_at(&secret, clock.now_ms() / 1000);
    match services.stepup.confirm(user, &code).await {
        Ok(palisade::stepup::Confirmation::Activated(_)) => {}
        other => panic!("enrolment is confirmed: {other:?}"),
    }
}

/// Runs every check on `subject`, whose adapter runs in `bot`.
pub async fn run(subject: &dyn Subject, bot: &Running) {
    replies_arrive(subject).await;
    repeats_are_handled_once(subject).await;
    forgeries_are_refused_and_reported(subject, bot).await;
    settle(subject, "1").await;
    private_replies_stay_private(subject).await;
    settle(subject, "2").await;
    code_prompts_are_private(subject).await;
    settle(subject, "3").await;
    long_replies_are_split(subject).await;
    crate::logs::assert_never_logged(&subject.secrets().iter().map(String::as_str).collect::<Vec<_>>());
}

/// Waits until everything sent for the previous check has arrived (a marker sent now arrives after it), and
/// drops it.
async fn settle(subject: &dyn Subject, tag: &str) {
    let marker = format!("settled {tag}");
    subject.direct(1, &format!("/say {marker}")).await;
    subject.sent(&|s| s.iter().any(|m| m.text == marker)).await;
}

fn texts(sent: &[Sent]) -> Vec<&str> {
    sent.iter().map(|s| s.text.as_str()).collect()
}

async fn replies_arrive(subject: &dyn Subject) {
    subject.direct(1, "/say hello").await;
    let sent = subject.sent(&|s| s.iter().any(|m| m.text == "hello")).await;
    assert_eq!(texts(&sent), ["hello"], "one reply, in the direct chat");
}

async fn repeats_are_handled_once(subject: &dyn Subject) {
    let first = subject.direct(1, "/say once").await;
    subject.sent(&|s| s.iter().any(|m| m.text == "once")).await;
    subject.repeat(&first).await;
    // A marker after the repeat: once it is answered, the repeat was handled (or dropped) before it.
    subject.direct(1, "/say marker").await;
    let sent = subject.sent(&|s| s.iter().any(|m| m.text == "marker")).await;
    assert_eq!(texts(&sent), ["marker"], "the repeated delivery was answered again");
}

async fn forgeries_are_refused_and_reported(subject: &dyn Subject, bot: &Running) {
    let before = bot.rejections.all().len();
    if !subject.forge().await {
        return;
    }
    assert!(bot.rejections.all().len() > before, "the forged request was not reported to the sink");
    subject.direct(1, "/say after forgery").await;
    let sent = subject.sent(&|s| s.iter().any(|m| m.text == "after forgery")).await;
    assert_eq!(texts(&sent), ["after forgery"], "something was sent for the forged request");
}

async fn private_replies_stay_private(subject: &dyn Subject) {
    subject.group(2, "/whisper").await;
    let sent = subject.sent(&|s| s.iter().any(|m| m.text.contains(WHISPER))).await;
    for m in sent.iter().filter(|m| m.text.contains(WHISPER)) {
        assert!(m.private, "a private reply was posted where others can read it: {sent:?}");
    }
}

async fn code_prompts_are_private(subject: &dyn Subject) {
    subject.group(3, "/guarded").await;
    let scope = "conformance.guarded";
    let sent = subject.sent(&|s| s.iter().any(|m| m.text.contains(scope))).await;
    for m in sent.iter().filter(|m| m.text.contains(scope)) {
        assert!(m.private, "the code prompt went where others can read it: {sent:?}");
    }
    assert!(!texts(&sent).contains(&"guarded action done"), "the sensitive command ran without a code");
}

async fn long_replies_are_split(subject: &dyn Subject) {
    let max = subject.max_len();
    let expected = long_text(max);
    let last_word = expected.rsplit(' ').next().unwrap_or_default().to_string();
    subject.direct(1, "/long").await;
    let sent = subject.sent(&|s| s.iter().any(|m| m.text.ends_with(&last_word))).await;
    assert!(sent.len() >= 3, "two and a half messages' worth came in {} message(s)", sent.len());
    for m in &sent {
        assert!(m.text.chars().count() <= max, "a part of {} characters exceeds {max}", m.text.chars().count());
    }
    let joined: Vec<&str> = sent.iter().flat_map(|m| m.text.split_whitespace()).collect();
    let wanted: Vec<&str> = expected.split_whitespace().collect();
    let first_difference = joined.iter().zip(&wanted).position(|(a, b)| a != b);
    assert!(
        joined.len() == wanted.len() && first_difference.is_none(),
        "words were lost or reordered: {} of {} arrived, first difference at {first_difference:?}",
        joined.len(),
        wanted.len()
    );
}
