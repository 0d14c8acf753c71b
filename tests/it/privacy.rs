//! Data-subject rights end to end: export, erasure with crypto-shredding, consent, minimisation, retention.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::support::probe::Probe;
use crate::support::{Harness, text_of};
use palisade::audit::Audit;
use palisade::clock::TokioClock;
use palisade::config::{PrivacySettings, Settings};
use palisade::store::{Backend, RecordStore, SharedStore, SledBackend};
use palisade::{Plugin, ReplyBody};
use palisade_notes::{Notes, NotesSettings};

struct World {
    h: Harness,
    audit: Arc<Audit>,
    backend: Arc<dyn Backend>,
}

async fn world(dir: &Path, consent: bool) -> World {
    let backend: Arc<dyn Backend> = Arc::new(SledBackend::open(dir).unwrap());
    let store: SharedStore =
        Arc::new(RecordStore::open(backend.clone(), &crate::support::test_key(), TokioClock::shared()).await.unwrap());
    let notes = Notes::new(NotesSettings { require_consent: consent, ..NotesSettings::default() });
    let plugins: Vec<Arc<dyn Plugin>> =
        vec![Arc::new(notes), Arc::new(palisade_bank::Bank::default()), Probe::shared()];
    let privacy =
        PrivacySettings { controller: "Acme Ltd".into(), contact: "dpo@acme.example".into(), ..Default::default() };
    let h = Harness::bot(plugins, store, Settings { privacy, ..Settings::default() }).await;
    let audit = h.services().audit.clone();
    World { h, audit, backend }
}

impl World {
    async fn note(&self, user: &str, text: &str, title: &str) {
        self.h.say(user, &format!("/note {text}")).await;
        assert!(self.h.say(user, title).await[0].starts_with("Saved"));
    }

    /// The JSON of `/mydata`, read from the file reply.
    async fn export(&self, user: &str) -> serde_json::Value {
        self.h.sink.submit_and_wait(crate::support::event(user, "/mydata")).await.unwrap();
        let replies = self.h.captured.take();
        let file = replies.iter().find_map(|r| match &r.body {
            ReplyBody::File { name, bytes, .. } if r.private => Some((name.clone(), bytes.clone())),
            _ => None,
        });
        let (name, bytes) =
            file.unwrap_or_else(|| panic!("no private file in {:?}", replies.iter().map(text_of).collect::<Vec<_>>()));
        assert_eq!(name, "my-data.json");
        serde_json::from_slice(&bytes).unwrap()
    }
}

#[tokio::test]
async fn an_export_holds_all_of_mine_and_nothing_of_anyone_else() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path(), false).await;
    w.note("ann", "ann-secret-recipe-7731", "Recipe").await;
    w.h.say("ann", "/balance").await;
    w.note("bob", "bob-diary-entry-9912", "Diary").await;
    let data = w.export("ann").await;
    let text = data.to_string();
    assert!(text.contains("ann-secret-recipe-7731"), "{text}");
    assert!(!text.contains("bob-diary-entry-9912"), "{text}");
    assert_eq!(data["subject"], "console:ann");
    assert_eq!(data["controller"], "Acme Ltd");
    assert_eq!(data["data"]["notes"]["records"][0]["value"]["title"], "Recipe");
    assert_eq!(data["data"]["notes"]["legal_basis"], "providing the service you asked for");
    assert!(
        w.audit.entries_since(0).await.unwrap().iter().any(|e| e.event == "privacy.export"),
        "the export is audited"
    );
    let again = w.export("ann").await;
    assert!(again["audit_trail_about_you"].as_array().unwrap().iter().any(|e| e["event"] == "privacy.export"));
    assert_eq!(again["rights_requests"][0]["kind"], "access");
    w.h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_enrolled_user_verifies_before_the_export_and_the_secret_is_not_exported() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path(), false).await;
    let shown = w.h.say("ann", "/2fa setup").await.join("\n");
    let b32 = shown.split("by hand: ").nth(1).unwrap().split(')').next().unwrap().to_string();
    let secret = palisade_testkit::totp::base32(&b32);
    let done = w.h.say("ann", &w.h.code(&secret, 0)).await.join("\n");
    let recovery = done.lines().nth(2).unwrap().to_string();
    assert!(w.h.say("ann", "/mydata").await[0].contains("To confirm privacy.export"));
    w.h.say("ann", &w.h.code(&secret, 1)).await;
    // The export was delivered as the resumed action; fetch again within the grant.
    let data = w.export("ann").await.to_string();
    assert!(data.contains("\"two_factor_enabled\":true"), "{data}");
    assert!(!data.contains(&b32) && !data.contains(&recovery), "no secret or recovery code in the export");
    w.h.stop().await;
}

#[tokio::test]
async fn forget_erases_everything_of_mine_and_leaves_others_and_a_clean_tombstone() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path(), false).await;
    w.note("ann", "ann-marker-5521", "Mine").await;
    w.h.say("ann", "/balance").await;
    w.note("bob", "bob-marker-8834", "His").await;
    let before: Vec<_> = w.backend.scan_prefix("notes", &[]).await.unwrap();
    assert_eq!(w.h.say("ann", "/forget").await, ["Erase everything stored about you? This cannot be undone."]);
    let ann = palisade_testkit::user("ann");
    let known_as = w.audit.pseudonym(&ann).await.unwrap();
    let done = w.h.press("ann", "privacy:erase").await;
    assert!(done[0].starts_with("Done: your data was erased ("), "{done:?}");
    assert!(done[0].contains("can no longer be linked to you"), "{done:?}");
    // The erasure is recorded under the old name; after it, nothing links that name to ann.
    let erase = w.audit.entries_since(0).await.unwrap().into_iter().find(|e| e.event == "privacy.erase").unwrap();
    assert_eq!(erase.actor.as_deref(), Some(known_as.as_str()));
    assert_ne!(w.audit.pseudonym(&ann).await.unwrap(), known_as, "a returning user gets a new name");
    // None of ann's records opens any more, even restored from a copy taken before.
    for (k, v) in &before {
        w.backend.insert("notes", k, v).await.unwrap();
    }
    assert_eq!(w.h.say("ann", "/notes").await, ["You have no notes yet. Save one with /note <text>."]);
    assert_eq!(w.h.say("bob", "/notes").await, ["Your notes:\n1. His — bob-marker-8834"]);
    // The audit trail keeps a tombstone without personal data.
    let entries = serde_json::to_string(&w.audit.entries_since(0).await.unwrap()).unwrap();
    assert!(entries.contains("privacy.erase"));
    for needle in ["console:ann", "ann-marker-5521", "Mine"] {
        assert!(!entries.contains(needle), "`{needle}` in the audit trail: {entries}");
    }
    w.h.stop().await;
    // And nothing of ann's is readable in the data directory (markers never appear, raw or encoded).
    for entry in walk(dir.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(!bytes.windows(15).any(|win| win == b"ann-marker-5521"), "{}", entry.display());
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .flat_map(|e| if e.path().is_dir() { walk(&e.path()) } else { vec![e.path()] })
        .collect()
}

#[tokio::test]
async fn writes_to_undeclared_namespaces_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path(), false).await;
    let r = w.h.say("ann", "/stash").await;
    assert!(r[0].starts_with("refused: namespace `probe` is not declared in the plugin's data manifest"), "{r:?}");
    w.h.stop().await;
}

#[tokio::test]
async fn consent_is_asked_once_recorded_and_withdrawn_with_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path(), true).await;
    let asked = w.h.say("ann", "/note buy milk").await;
    assert!(asked[0].starts_with("Notes keeps the text of each note you save"), "{asked:?}");
    assert_eq!(w.h.press("ann", "privacy:agree:notes:1").await, ["Thank you. Send your command again."]);
    w.note("ann", "buy milk", "Shopping").await;
    let shown = w.h.say("ann", "/consent").await;
    assert_eq!(shown, ["Consents you gave:\n• notes (version 1)"]);
    let gone = w.h.press("ann", "privacy:withdraw:notes").await;
    assert_eq!(gone, ["Consent for notes withdrawn; 1 of its records about you were deleted."]);
    assert!(w.h.say("ann", "/notes").await[0].starts_with("Notes keeps the text"), "asked again after withdrawal");
    let entries: Vec<String> = w.audit.entries_since(0).await.unwrap().into_iter().map(|e| e.event).collect();
    assert!(
        entries.contains(&"privacy.consent_given".to_string())
            && entries.contains(&"privacy.consent_withdrawn".to_string())
    );
    w.h.stop().await;
}

#[tokio::test]
async fn corrections_change_only_the_chosen_field() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path(), false).await;
    w.note("ann", "call the dentist", "Dentsit").await;
    let choices = w.h.say("ann", "/correct").await;
    assert_eq!(choices, ["Which one is wrong?"]);
    assert_eq!(w.h.press("ann", "privacy:0").await, ["Send the correct title."]);
    assert_eq!(w.h.say("ann", "Dentist").await, ["Corrected title in notes."]);
    assert_eq!(w.h.say("ann", "/notes").await, ["Your notes:\n1. Dentist — call the dentist"]);
    w.h.stop().await;
}

#[tokio::test]
async fn retention_comes_from_manifests_and_config_can_only_shorten_it() {
    let notes = Notes::default();
    let manifests =
        vec![("notes".to_string(), notes.manifest()), ("core".to_string(), palisade::privacy::core_manifest())];
    let overrides = BTreeMap::from([
        ("notes".to_string(), Duration::from_secs(86_400)),
        ("core.flows".to_string(), Duration::from_secs(30 * 86_400)),
    ]);
    let ttl = palisade::store::retention_rules(&manifests, &overrides);
    assert_eq!(ttl["notes"], Duration::from_secs(86_400), "shortened by config");
    assert_eq!(ttl["core.flows"], Duration::from_secs(86_400), "a longer config value is ignored");
    assert_eq!(ttl["core.stepup"], Duration::from_secs(3650 * 86_400));
}

#[tokio::test]
async fn rights_commands_that_show_data_stay_out_of_groups() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path(), false).await;
    w.note("ann", "private text", "Private title").await;
    let mut in_group = crate::support::event("ann", "/correct");
    in_group.chat = palisade::ChatRef::new(palisade::Platform::CONSOLE, "room", palisade::ChatKind::Group);
    w.h.sink.submit_and_wait(in_group).await.unwrap();
    let replies = w.h.captured.take();
    assert_eq!(replies.len(), 1);
    assert!(replies[0].private, "only a private pointer, no data in the group");
    assert_eq!(text_of(&replies[0]), "Your data stays private: send /correct to me in our private chat.");
    w.h.stop().await;
}
