//! Scheduled jobs, through the notes plugin's `/remind`: due on time in the chat they were asked in, kept
//! across a restart, gone with an erasure.

use std::sync::Arc;
use std::time::Duration;

use palisade::config::Settings;
use palisade::store::{SharedStore, Subject};
use palisade_notes::Notes;

use crate::support::{Harness, sled_store, text_of};

async fn bot(store: SharedStore) -> Harness {
    Harness::bot(vec![Arc::new(Notes::default()) as Arc<dyn palisade::Plugin>], store, Settings::default()).await
}

/// The texts of replies to `user` that arrive within `within` of (virtual) time.
async fn arriving(h: &Harness, user: &str, within: Duration) -> Vec<String> {
    let step = Duration::from_secs(1);
    let mut waited = Duration::ZERO;
    let mut out = Vec::new();
    while waited < within {
        tokio::time::sleep(step).await;
        waited += step;
        out.extend(h.captured.take().iter().filter(|r| r.user.id == user).map(text_of));
        if !out.is_empty() {
            break;
        }
    }
    out
}

#[tokio::test(start_paused = true)]
async fn a_reminder_arrives_when_due_and_not_before() {
    let h = bot(crate::support::memory_store().await).await;
    assert_eq!(h.say("ann", "/remind 10m call the dentist").await, ["I will remind you in 10m: call the dentist"]);
    assert_eq!(
        h.say("ann", "/remind soon call").await,
        [
            "`when` must be a delay like 10m, 2h or 3d (at most 30 days). Usage: /remind <when> <text…> — Remind you later: `/remind 10m call the dentist` (m, h or d)"
        ],
        "a bad delay gets the usage line generated from the declaration"
    );
    assert!(arriving(&h, "ann", Duration::from_secs(590)).await.is_empty(), "not before it is due");
    let due = arriving(&h, "ann", Duration::from_secs(30)).await;
    assert_eq!(due, ["Reminder: call the dentist"]);
    assert!(arriving(&h, "ann", Duration::from_secs(3600)).await.is_empty(), "once");
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_reminder_survives_a_restart_and_goes_with_an_erasure() {
    let dir = tempfile::tempdir().unwrap();
    let store = sled_store(dir.path()).await;
    let h = bot(store.clone()).await;
    h.say("ann", "/remind 5m water the plants").await;
    h.say("bob", "/remind 5m bob's secret plan").await;
    // The job is sealed under its user, like the rest of their data.
    let jobs = store.list(palisade::jobs::NAMESPACE, Some(&Subject::user(&crate::support::user("ann")))).await.unwrap();
    assert_eq!(jobs.len(), 1);
    h.stop().await;
    drop(store);

    let store = sled_store(dir.path()).await;
    let h = bot(store).await;
    // Bob erases his data before his reminder is due.
    h.say("bob", "/forget").await;
    let erased = h.press("bob", "privacy:erase").await;
    assert!(erased.iter().any(|t| t.starts_with("Done: your data was erased")), "{erased:?}");
    let arrived = arriving(&h, "ann", Duration::from_secs(310)).await;
    assert_eq!(arrived, ["Reminder: water the plants"]);
    assert!(arriving(&h, "bob", Duration::from_secs(600)).await.is_empty(), "erased with bob");
    h.stop().await;
    for text in ["water the plants", "bob's secret plan"] {
        assert!(!crate::support::any_file_contains(dir.path(), text), "`{text}` on disk in plaintext");
    }
}
