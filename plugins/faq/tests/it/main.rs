//! The FAQ plugin through the real dispatcher: answers by keyword, the fallback, and quiet in groups unless
//! the bot is addressed.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use palisade_core::{ChatKind, ChatRef, Event, Platform, UserRef};
use palisade_faq::{Faq, FaqSettings};
use palisade_testkit::{Harness, memory_store};

fn in_group(text: &str, addressed: bool) -> Event {
    let mut e = Event::text(
        UserRef::new(Platform::CONSOLE, "ann"),
        ChatRef::new(Platform::CONSOLE, "team", ChatKind::Group),
        text,
    );
    e.addressed = addressed;
    e
}

#[tokio::test]
async fn plain_questions_get_answers_and_everything_else_a_pointer_to_help() {
    let h = Harness::start(vec![Arc::new(Faq::default())], memory_store().await);
    let hello = h.say("ann", "Hello there!").await;
    assert!(hello[0].starts_with("Hello! I am a demo bot."), "{hello:?}");
    let hours = h.say("ann", "What are your OPENING hours?").await;
    assert_eq!(hours, ["We are open Monday to Friday, 9:00 to 17:00. I answer here around the clock."]);
    assert_eq!(h.say("ann", "purple elephants").await, [FaqSettings::default().fallback]);
    assert_eq!(h.say("ann", "thankfulness").await, [FaqSettings::default().fallback], "whole words only");

    // In a group the bot speaks only when spoken to.
    assert!(h.send(in_group("hello everyone", false)).await.is_empty());
    assert!(h.send(in_group("@palisadebot hello", true)).await[0].starts_with("Hello!"));
    h.stop().await;
}

#[tokio::test]
async fn two_fallbacks_in_one_bot_are_refused_naming_both() {
    let plugins: Vec<Arc<dyn palisade_core::Plugin>> = vec![Arc::new(Faq::default()), Arc::new(Faq::default())];
    let error = palisade::Dispatcher::builder(plugins, memory_store().await).build().unwrap_err();
    assert!(error.contains("both declare a fallback"), "{error}");
}
