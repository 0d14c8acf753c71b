//! Conversation flows end to end: steps, buttons, /cancel, idle timeout, and resuming after a restart.

use std::sync::Arc;
use std::time::Duration;

use crate::support::{Harness, memory_store, sled_store};
use palisade::config::FlowSettings;
use palisade_notes::{Notes, NotesSettings};

fn notes() -> Vec<Arc<dyn palisade::Plugin>> {
    vec![Arc::new(Notes::new(NotesSettings::default()))]
}

fn idle(timeout: Duration, sweep: Duration) -> FlowSettings {
    FlowSettings { idle_timeout: timeout, sweep_interval: sweep }
}

#[tokio::test]
async fn a_note_is_saved_through_a_flow_listed_and_deleted_with_a_button() {
    let h = Harness::start(notes(), memory_store().await);
    assert_eq!(h.say("ann", "/note buy  milk").await, ["What title should this note have?"]);
    assert_eq!(h.say("ann", "").await.len(), 1, "an empty title is asked again");
    assert_eq!(h.say("ann", "Shopping").await, ["Saved “Shopping”. /notes lists your notes."]);
    assert_eq!(h.say("ann", "/notes").await, ["Your notes:\n1. Shopping — buy  milk"]);
    assert_eq!(h.say("bob", "/notes").await, ["You have no notes yet. Save one with /note <text>."]);

    assert_eq!(h.say("ann", "/note delete 1").await, ["Delete the note “Shopping”?"]);
    assert_eq!(h.say("ann", "maybe").await, ["Press Delete or Keep (or answer yes or no)."]);
    assert_eq!(h.press("ann", "notes:yes").await, ["Deleted."]);
    assert_eq!(h.say("ann", "/notes").await, ["You have no notes yet. Save one with /note <text>."]);
    h.stop().await;
}

#[tokio::test]
async fn buttons_of_another_plugin_or_stale_ones_are_refused() {
    let h = Harness::start(notes(), memory_store().await);
    h.say("ann", "/note x").await;
    h.say("ann", "T").await;
    h.say("ann", "/note delete 1").await;
    assert_eq!(h.press("ann", "bank:yes").await, ["That button is no longer active."]);
    assert_eq!(h.press("ann", "notes:no").await, ["Kept it."]);
    assert_eq!(h.press("ann", "notes:yes").await, ["That button is no longer active."]);
    assert_eq!(h.say("ann", "/notes").await, ["Your notes:\n1. T — x"]);
    h.stop().await;
}

#[tokio::test]
async fn cancel_ends_the_flow_and_other_commands_wait() {
    let h = Harness::start(notes(), memory_store().await);
    h.say("ann", "/note secret plan").await;
    let busy = h.say("ann", "/notes").await;
    assert_eq!(
        busy,
        ["You are in the middle of your new note. Answer the question above, or send /cancel first to use /notes."]
    );
    assert_eq!(h.say("ann", "/cancel").await, ["Cancelled your new note."]);
    assert_eq!(h.say("ann", "/cancel").await, ["There is nothing to cancel."]);
    assert_eq!(h.say("ann", "/notes").await, ["You have no notes yet. Save one with /note <text>."]);
    h.stop().await;
}

#[tokio::test]
async fn flows_are_per_user_and_chat() {
    let h = Harness::start(notes(), memory_store().await);
    h.say("ann", "/note from ann").await;
    assert_eq!(h.say("bob", "Title?").await, ["I only understand commands. Send /help to see what I can do."]);
    assert_eq!(h.say("ann", "Ann's").await, ["Saved “Ann's”. /notes lists your notes."]);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_idle_flow_times_out_on_the_next_message() {
    let settings = idle(Duration::from_secs(600), Duration::from_secs(86_400));
    let h = Harness::start_with(notes(), memory_store().await, |b| b.flow_settings(settings));
    h.say("ann", "/note buy milk").await;
    tokio::time::advance(Duration::from_secs(599)).await;
    assert_eq!(h.say("ann", "/cancel").await, ["Cancelled your new note."], "still alive before the timeout");
    h.say("ann", "/note buy milk").await;
    tokio::time::advance(Duration::from_secs(601)).await;
    let r = h.say("ann", "Shopping").await;
    assert_eq!(
        r,
        [
            "Your unfinished new note timed out and was cancelled.",
            "I only understand commands. Send /help to see what I can do."
        ]
    );
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn the_sweeper_tells_users_their_flow_expired() {
    let settings = idle(Duration::from_secs(60), Duration::from_secs(10));
    let h = Harness::start_with(notes(), memory_store().await, |b| b.flow_settings(settings));
    h.say("ann", "/note buy milk").await;
    tokio::time::sleep(Duration::from_secs(75)).await;
    let told: Vec<String> = h.captured.take().iter().map(crate::support::text_of).collect();
    assert_eq!(told, ["Your unfinished new note timed out and was cancelled."]);
    assert_eq!(h.say("ann", "/cancel").await, ["There is nothing to cancel."]);
    h.stop().await;
}

#[tokio::test]
async fn a_flow_resumes_after_a_restart_on_a_real_sled_directory() {
    let dir = tempfile::tempdir().unwrap();
    {
        let h = Harness::start(notes(), sled_store(dir.path()).await);
        assert_eq!(h.say("ann", "/note survive the restart").await, ["What title should this note have?"]);
        h.stop().await;
    }
    let h = Harness::start(notes(), sled_store(dir.path()).await);
    assert_eq!(h.say("ann", "Persistence").await, ["Saved “Persistence”. /notes lists your notes."]);
    assert_eq!(h.say("ann", "/notes").await, ["Your notes:\n1. Persistence — survive the restart"]);
    h.stop().await;
}
