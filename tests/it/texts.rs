//! Built-in texts in the operator's words and the user's language: overrides from `[texts.<lang>]` and a
//! file beside the configuration reach users whose platform names that language (help, the router's
//! answers, step-up prompts, privacy answers); others read English; mistakes in overrides are named.

use std::collections::HashMap;
use std::sync::Arc;

use palisade::config::Loader;
use palisade::plugin::Plugin;

use crate::support::{Harness, event, memory_store};

const CONFIG: &str = r#"
[texts]
file = "texts.toml"

[texts.de]
router.unknown_command = "Ich kenne /{command} nicht."
help.intro = "Das kannst du tun:"
stepup.needs_enrolment = "{scope} braucht eine Zwei-Faktor-Bestätigung. Richte sie mit /2fa setup ein."
"#;

const FILE: &str = r#"
[texts.de]
router.unknown_command = "(from the file, overridden by the configuration)"

[texts.de.privacy]
nothing_erased = "Es wurde nichts gelöscht."
erase_button = "Alles löschen"
"#;

fn german(text: &str) -> palisade::Event {
    let mut e = event("ann", text);
    e.language = Some("de-DE".into());
    e
}

#[tokio::test]
async fn users_read_built_in_texts_in_their_language_where_the_operator_gives_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bot.toml"), CONFIG).unwrap();
    std::fs::write(dir.path().join("texts.toml"), FILE).unwrap();
    let loaded = Loader::new(dir.path().join("bot.toml")).with_env(HashMap::new()).load().unwrap();
    let plugins: Vec<Arc<dyn Plugin>> = vec![Arc::new(palisade_bank::Bank::default())];
    let h = Harness::bot(plugins, memory_store().await, loaded.settings).await;

    assert_eq!(h.send(german("/nosuch")).await, ["Ich kenne /nosuch nicht."]);
    assert!(h.send(german("/help")).await[0].starts_with("Das kannst du tun:"));
    // A sensitive action for someone without two-factor verification: the step-up gate's text.
    assert_eq!(h.send(german("/transfer 10 Bob")).await, ["Send 10.00 to Bob?"], "the plugin's own text");
    let mut confirm = h.pressed("ann", "bank:confirm");
    confirm.language = Some("de".into());
    let asked = h.send(confirm).await;
    assert!(asked.iter().any(|t| t.starts_with("bank.transfer braucht eine Zwei-Faktor-Bestätigung")), "{asked:?}");
    // From the file: a text the configuration does not give, and a nested table.
    h.send(german("/cancel")).await;
    h.sink.submit_and_wait(german("/forget")).await.unwrap();
    let asked = h.captured.take();
    let labels: Vec<&str> = asked
        .iter()
        .flat_map(|r| match &r.body {
            palisade::ReplyBody::Text { buttons, .. } => buttons.iter().map(|b| b.label.as_str()).collect(),
            _ => Vec::new(),
        })
        .collect();
    assert_eq!(labels, ["Alles löschen", "Keep my data"], "the nested table's text, English where none is given");
    let mut keep = h.pressed("ann", "privacy:keep");
    keep.language = Some("de".into());
    assert_eq!(h.send(keep).await, ["Es wurde nichts gelöscht."]);

    // No language, or one without overrides: English.
    assert_eq!(h.say("ann", "/nosuch").await, ["I don't know /nosuch. Send /help to see what I can do."]);
    let mut french = event("bob", "/nosuch");
    french.language = Some("fr".into());
    assert_eq!(h.send(french).await, ["I don't know /nosuch. Send /help to see what I can do."]);
    h.stop().await;
}
