//! Events beyond text on Telegram: a member joining and leaving, an edited message, a reaction, and a file
//! whose bytes a plugin fetches through the adapter (within the size cap).

use std::time::Duration;

use palisade::Section;
use palisade_telegram::TelegramAdapter;
use palisade_testkit::watcher::Watcher;
use serde_json::json;

use palisade_testkit::telegram::{FakeApi, chat_json};

const ANN: u64 = 4242;
const TEAM: i64 = -100_777;

fn user(id: u64) -> serde_json::Value {
    json!({ "id": id, "is_bot": false, "first_name": "Ann" })
}

#[tokio::test]
async fn members_edits_reactions_and_files_reach_the_plugins_that_asked() {
    let fake = FakeApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let table = crate::support::settings(&fake, json!({}));
    let adapter = TelegramAdapter::from_section(&Section::new("adapters.telegram", table).unwrap()).unwrap();
    let (watcher, bot) = Watcher::run(Box::new(adapter), dir.path(), Vec::new()).await;
    fake.until("getMe", |c| c.method == "getme").await;

    fake.push(json!({ "message": { "message_id": 10, "date": 1_700_000_000, "chat": chat_json(TEAM),
        "from": user(ANN), "new_chat_members": [user(ANN)] } }));
    fake.push(json!({ "edited_message": { "message_id": 11, "date": 1_700_000_000, "edit_date": 1_700_000_100,
        "chat": chat_json(TEAM), "from": user(ANN), "text": "fixed typo" } }));
    fake.push(json!({ "message_reaction": { "chat": chat_json(TEAM), "message_id": 11, "user": user(ANN),
        "date": 1_700_000_200, "old_reaction": [], "new_reaction": [{ "type": "emoji", "emoji": "👍" }] } }));
    fake.push(json!({ "message": { "message_id": 12, "date": 1_700_000_000, "chat": chat_json(ANN as i64),
        "from": user(ANN), "caption": "my report",
        "document": { "file_id": "doc-1", "file_unique_id": "u1", "file_size": 19, "file_name": "report.txt",
                      "mime_type": "text/plain" } } }));
    fake.push(json!({ "message": { "message_id": 13, "date": 1_700_000_000, "chat": chat_json(ANN as i64),
        "from": user(ANN), "document": { "file_id": "too-big", "file_unique_id": "u2", "file_size": 5000000,
                                         "file_name": "huge.bin" } } }));
    fake.push(json!({ "message": { "message_id": 14, "date": 1_700_000_000, "chat": chat_json(TEAM),
        "from": user(ANN), "left_chat_member": user(ANN) } }));
    // Ann adds two people and a bot at once: one event for each person.
    let other = |id: u64, name: &str| json!({ "id": id, "is_bot": false, "first_name": name });
    fake.push(json!({ "message": { "message_id": 15, "date": 1_700_000_000, "chat": chat_json(TEAM),
        "from": user(ANN), "new_chat_members": [other(5151, "Bob"), other(6161, "Cid"),
            { "id": 7171, "is_bot": true, "first_name": "Helper", "username": "helper_bot" }] } }));

    fake.until_sent("Got huge.bin").await;
    let seen = watcher.until(8).await;
    // Each conversation's events in their order (the group's and the direct chat's run side by side).
    let added = |s: &&String| s.starts_with("joined") && !s.ends_with(&ANN.to_string());
    let mut added_together: Vec<&String> = seen.iter().filter(added).collect();
    added_together.sort();
    assert_eq!(added_together, ["joined telegram:5151", "joined telegram:6161"], "{seen:?}");
    assert_eq!(seen.len(), 8, "no event for the bot: {seen:?}");
    let in_group: Vec<&String> = seen.iter().filter(|s| !s.starts_with("file") && !added(s)).collect();
    let in_dm: Vec<&String> = seen.iter().filter(|s| s.starts_with("file")).collect();
    assert_eq!(in_group, ["joined telegram:4242", "edited 11 to fixed typo", "reacted 👍 to 11", "left telegram:4242"]);
    assert_eq!(in_dm, ["file doc-1 Some(\"my report\")", "file too-big None"]);
    let sent: Vec<String> =
        fake.calls().iter().filter(|c| c.method == "sendmessage").map(|c| c.text().to_string()).collect();
    assert!(sent.contains(&"Got report.txt: contents of doc-1".to_string()), "{sent:?}");
    assert!(
        sent.iter().any(|t| t.starts_with("Got huge.bin") && t.contains("larger than this bot accepts")),
        "{sent:?}"
    );
    assert!(!fake.calls().iter().any(|c| c.method == "getfile" && c.params["file_id"] == "too-big"), "not fetched");
    // The polls ask Telegram for edits and reactions too.
    let poll = fake.calls().into_iter().find(|c| c.method == "getupdates").unwrap();
    let allowed = poll.params["allowed_updates"].to_string();
    assert!(allowed.contains("edited_message") && allowed.contains("message_reaction"), "{allowed}");
    bot.stop().await.unwrap();
}

fn topic_message(fake: &FakeApi, topic: i32, text: &str) {
    fake.push(json!({ "message": { "message_id": 100 + topic, "date": 1_700_000_000, "chat":
        { "id": TEAM, "type": "supergroup", "title": "Team", "is_forum": true },
        "from": user(ANN), "text": text, "is_topic_message": true, "message_thread_id": topic } }));
}

#[tokio::test]
async fn a_flow_started_in_a_forum_topic_answers_and_stays_there() {
    let fake = FakeApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot =
        crate::support::start(crate::support::settings(&fake, json!({})), dir.path(), Duration::from_secs(60)).await;
    topic_message(&fake, 4, "/note buy oat milk");
    let asked = fake.until_sent("What title should this note have?").await.pop().unwrap();
    assert_eq!(asked.params["message_thread_id"], 4, "the question goes back into the topic");
    // An answer in another topic is not an answer to this flow (it is plain group text, not addressed).
    topic_message(&fake, 9, "Elsewhere");
    topic_message(&fake, 4, "Groceries");
    let saved = fake.until_sent("Saved").await.pop().unwrap();
    assert_eq!(saved.text(), "Saved “Groceries”. /notes lists your notes.");
    assert_eq!(saved.params["message_thread_id"], 4);
    bot.stop().await.unwrap();
}
