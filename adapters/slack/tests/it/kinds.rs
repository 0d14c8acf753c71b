//! Events beyond text on Slack, over Socket Mode: a member joining and leaving a channel, a reaction, an
//! edited message, and files shared — their bytes fetched through the adapter with the bot token, from the
//! address `files.info` names (refused beyond the size cap, and refused when the address is on a host other
//! than Slack's), the answer posted in the thread the file came in.

use palisade::Section;
use palisade_slack::{Mode, SlackAdapter};
use palisade_testkit::watcher::Watcher;
use serde_json::{Value, json};

use crate::support::fake::{BOT_TOKEN, FakeSlack, TEAM};
use crate::support::{Driver, dm, user_id};

const ANN: u32 = 1;
const CHANNEL: &str = "C0TEAM";
const EDITED: &str = "1700000001.000011";
const THREAD: &str = "1700000002.000001";

fn callback(fake: &FakeSlack, event: Value) -> Value {
    json!({ "type": "event_callback", "token": "legacy", "team_id": TEAM, "api_app_id": "A0FAKE",
        "event_id": format!("Ev{}", fake.next()), "event_time": 1_700_000_001, "event": event })
}

/// Ann shares `files` (id, name, size) in her direct chat with the bot, inside a thread, as Slack's
/// `file_share` message.
fn shared(fake: &FakeSlack, files: &[(&str, &str, usize)], text: &str) -> Value {
    let files: Vec<Value> = files
        .iter()
        .map(|(id, name, size)| {
            json!({ "id": id, "name": name, "title": name, "mimetype": "text/plain", "filetype": "text",
                    "size": size, "mode": "hosted", "is_external": false })
        })
        .collect();
    callback(
        fake,
        json!({ "type": "message", "subtype": "file_share", "user": user_id(ANN), "text": text, "channel": dm(ANN),
            "channel_type": "im", "ts": format!("1700000002.{:06}", fake.next()), "thread_ts": THREAD, "team": TEAM,
            "files": files }),
    )
}

#[tokio::test]
async fn members_edits_reactions_and_files_reach_the_plugins_that_asked() {
    let fake = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let table = crate::support::settings(&fake, Mode::Socket, json!({}));
    let adapter = SlackAdapter::from_section(&Section::new("adapters.slack", table).unwrap()).unwrap();
    let (watcher, bot) = Watcher::run(Box::new(adapter), dir.path(), Vec::new()).await;
    let driver = Driver { fake: &fake, events: None };
    fake.host_file("F0REPORT", "report.txt", b"quarterly figures", None);
    fake.host_file("F0NOTES", "notes.txt", b"and the notes", None);
    fake.host_file("F0HUGE", "huge.bin", &[7; 100], None);
    fake.host_file("F0ELSEWHERE", "other.txt", b"not for the token", Some("127.0.0.2"));

    let ann = user_id(ANN);
    driver
        .event(callback(
            &fake,
            json!({ "type": "member_joined_channel", "user": ann, "channel": CHANNEL,
            "channel_type": "C", "team": TEAM, "inviter": "U0INVITER" }),
        ))
        .await;
    driver
        .event(callback(
            &fake,
            json!({ "type": "message", "subtype": "message_changed", "channel": CHANNEL,
            "channel_type": "channel", "ts": "1700000001.000099", "hidden": true,
            "message": { "type": "message", "user": ann, "text": "fixed typo", "ts": EDITED, "team": TEAM,
                         "edited": { "user": ann, "ts": "1700000001.000099" } },
            "previous_message": { "type": "message", "user": ann, "text": "fixd typo", "ts": EDITED } }),
        ))
        .await;
    driver
        .event(callback(
            &fake,
            json!({ "type": "reaction_added", "user": ann, "reaction": "thumbsup",
            "item_user": "U0OTHER", "item": { "type": "message", "channel": CHANNEL, "ts": EDITED },
            "event_ts": "1700000001.000100" }),
        ))
        .await;
    // Two files shared in one message: one event each, the message's text as both captions.
    let two = [("F0REPORT", "report.txt", 17), ("F0NOTES", "notes.txt", 13)];
    driver.event(shared(&fake, &two, "my report")).await;
    driver.event(shared(&fake, &[("F0HUGE", "huge.bin", 100)], "")).await;
    driver.event(shared(&fake, &[("F0ELSEWHERE", "other.txt", 17)], "")).await;
    driver
        .event(callback(
            &fake,
            json!({ "type": "member_left_channel", "user": ann, "channel": CHANNEL,
            "channel_type": "C", "team": TEAM }),
        ))
        .await;

    let seen = watcher.until(8).await;
    let me = format!("slack:{TEAM}/{ann}");
    let in_channel: Vec<&String> = seen.iter().filter(|s| !s.starts_with("file")).collect();
    let in_dm: Vec<&String> = seen.iter().filter(|s| s.starts_with("file")).collect();
    assert_eq!(
        in_channel,
        [
            &format!("joined {me}"),
            &format!("edited {CHANNEL}:{EDITED} to fixed typo"),
            &format!("reacted thumbsup to {CHANNEL}:{EDITED}"),
            &format!("left {me}"),
        ]
    );
    assert_eq!(
        in_dm,
        [
            "file F0REPORT Some(\"my report\")",
            "file F0NOTES Some(\"my report\")",
            "file F0HUGE None",
            "file F0ELSEWHERE None"
        ]
    );

    // Files are handled in order in Ann's conversation: the last answer comes last.
    fake.until_said("Got other.txt").await;
    let calls = fake.calls();
    let answers: Vec<_> = calls.iter().filter(|c| c.is_message() && c.text().starts_with("Got ")).collect();
    assert_eq!(answers.len(), 4, "{answers:?}");
    assert_eq!(answers[0].text(), "Got report.txt: quarterly figures");
    assert_eq!(answers[1].text(), "Got notes.txt: and the notes");
    assert!(answers[2].text().contains("larger than this bot accepts"), "{}", answers[2].text());
    assert!(answers[3].text().contains("only sent to files.slack.com"), "{}", answers[3].text());
    for answer in &answers {
        assert_eq!((answer.channel(), answer.params["thread_ts"].as_str()), (dm(ANN).as_str(), Some(THREAD)));
    }
    // Two downloads, with the bot token; the file beyond the cap was not asked for at all.
    let downloads: Vec<_> = calls.iter().filter(|c| c.method == "download").collect();
    let fetched: Vec<_> = downloads.iter().map(|c| (c.params["file"].as_str(), c.token.as_deref())).collect();
    assert_eq!(fetched, [(Some("F0REPORT"), Some(BOT_TOKEN)), (Some("F0NOTES"), Some(BOT_TOKEN))]);
    let asked: Vec<_> = calls.iter().filter(|c| c.method == "files.info").map(|c| c.params["file"].clone()).collect();
    assert_eq!(asked, [json!("F0REPORT"), json!("F0NOTES"), json!("F0ELSEWHERE")]);
    bot.stop().await.unwrap();
}
