//! Events beyond text on Discord's gateway, with the intents each needs: members joining and leaving a guild
//! (GUILD_MEMBERS), a reaction (the reaction intents), an edited direct message, files attached to direct
//! messages (fetched from the CDN address within the size cap; an address elsewhere is not fetched), and a
//! guild message that mentions the bot answered with the mention taken off, while one that does not is left.

use std::sync::Arc;

use palisade::Section;
use palisade_discord::DiscordAdapter;
use palisade_testkit::watcher::Watcher;
use serde_json::{Value, json};

use crate::support::fake::FakeRest;
use crate::support::gateway::FakeGateway;
use crate::support::{ANN, ANN_DM, GUILD, Signer, TEAM};

/// The bot's user id in the fake gateway's READY.
const ME: &str = "4242";

fn user(id: &str, bot: bool) -> Value {
    json!({ "id": id, "username": "ann", "discriminator": "0", "global_name": "Ann", "avatar": null, "bot": bot })
}

fn message(id: &str, channel: &str, guild: Option<&str>, content: &str, extra: Value) -> Value {
    let mut m = json!({
        "id": id, "channel_id": channel, "author": user(ANN, false), "content": content,
        "timestamp": "2025-01-01T00:00:00.000000+00:00", "edited_timestamp": null, "tts": false,
        "mention_everyone": false, "mentions": [], "mention_roles": [], "attachments": [], "embeds": [],
        "pinned": false, "type": 0,
    });
    if let Some(g) = guild {
        m["guild_id"] = json!(g);
    }
    m.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    m
}

fn attachment(id: &str, name: &str, url: &str, size: u64) -> Value {
    json!({ "id": id, "filename": name, "size": size, "url": url, "proxy_url": url, "content_type": "text/plain" })
}

#[tokio::test]
async fn members_edits_reactions_files_and_mentions_reach_the_plugins_that_asked() {
    let fake = FakeRest::start().await;
    let gateway = FakeGateway::start().await;
    fake.set_gateway(&gateway.url);
    let dir = tempfile::tempdir().unwrap();
    let extra = json!({ "mode": "gateway", "guild_mentions": true, "member_events": true, "reactions": true });
    let table = crate::support::settings(&fake, &Signer::generate().public_hex(), extra);
    let adapter = DiscordAdapter::from_section(&Section::new("adapters.discord", table).unwrap()).unwrap();
    let (watcher, bot) = Watcher::run(Box::new(adapter), dir.path(), vec![Arc::new(palisade_echo::Echo)]).await;

    let identify = gateway.identified().await;
    let intents = (1 << 12) | (1 << 9) | (1 << 1) | (1 << 10) | (1 << 13);
    assert_eq!(identify["intents"], intents, "DMs, guild messages, members, both reaction intents; no content");

    let member = json!({ "guild_id": GUILD, "user": user(ANN, false), "roles": [], "deaf": false, "mute": false,
        "joined_at": "2025-01-01T00:00:00.000000+00:00", "flags": 0 });
    gateway.dispatch("GUILD_MEMBER_ADD", member.clone());
    let bot_member = json!({ "guild_id": GUILD, "user": user("200000000000000009", true), "roles": [],
        "deaf": false, "mute": false, "joined_at": "2025-01-01T00:00:00.000000+00:00", "flags": 0 });
    gateway.dispatch("GUILD_MEMBER_ADD", bot_member);
    gateway.dispatch(
        "MESSAGE_UPDATE",
        json!({ "id": "800000000000000010", "channel_id": ANN_DM, "author": user(ANN, false), "content": "fixed typo",
            "edited_timestamp": "2025-01-01T00:01:00.000000+00:00", "mentions": [] }),
    );
    let reaction = |by: &str| {
        json!({ "user_id": by, "channel_id": TEAM, "message_id": "800000000000000010", "guild_id": GUILD,
            "emoji": { "id": null, "name": "👍" }, "burst": false, "type": 0 })
    };
    gateway.dispatch("MESSAGE_REACTION_ADD", reaction(ME));
    gateway.dispatch("MESSAGE_REACTION_ADD", reaction(ANN));
    let cdn = format!("{}/attachments/{ANN_DM}/900000000000000001/report.txt", fake.url);
    let notes = format!("{}/attachments/{ANN_DM}/900000000000000004/notes.txt", fake.url);
    let files = json!({ "attachments": [attachment("900000000000000001", "report.txt", &cdn, 22),
                                        attachment("900000000000000004", "notes.txt", &notes, 21)] });
    gateway.dispatch("MESSAGE_CREATE", message("800000000000000011", ANN_DM, None, "my report", files));
    let big = json!({ "attachments": [attachment("900000000000000002", "huge.bin", &cdn, 5_000_000)] });
    gateway.dispatch("MESSAGE_CREATE", message("800000000000000012", ANN_DM, None, "", big));
    let elsewhere = "https://files.example.com/attachments/1/2/other.txt";
    let foreign = json!({ "attachments": [attachment("900000000000000003", "other.txt", elsewhere, 10)] });
    gateway.dispatch("MESSAGE_CREATE", message("800000000000000013", ANN_DM, None, "", foreign));
    gateway.dispatch("GUILD_MEMBER_REMOVE", json!({ "guild_id": GUILD, "user": user(ANN, false) }));

    let seen = watcher.until(8).await;
    let mut sorted = seen.clone();
    sorted.sort();
    let ann = format!("discord:{ANN}");
    let mut expected = vec![
        format!("edited 800000000000000010 to fixed typo"),
        "file https://files.example.com/attachments/1/2/other.txt None".to_string(),
        format!("file {cdn} None"),
        format!("file {cdn} Some(\"my report\")"),
        format!("file {notes} Some(\"my report\")"),
        format!("joined {ann}"),
        format!("left {ann}"),
        "reacted 👍 to 800000000000000010".to_string(),
    ];
    expected.sort();
    assert_eq!(sorted, expected, "{seen:?}");
    let files: Vec<&String> = seen.iter().filter(|s| s.starts_with("file")).collect();
    // One message's attachments in their order (serenity runs each dispatch's handler on a task of its own,
    // so separate messages may be handed in either way round).
    let at = |name: &str| files.iter().position(|f| f.contains(name) && f.ends_with("Some(\"my report\")"));
    assert!(at("report.txt") < at("notes.txt"), "{files:?}");
    let joined_at = seen.iter().position(|s| s.starts_with("joined")).unwrap();
    assert!(seen.iter().position(|s| s.starts_with("left")).unwrap() > joined_at, "{seen:?}");

    for name in ["report.txt", "notes.txt", "huge.bin", "other.txt"] {
        fake.until_content(&format!("Got {name}")).await;
    }
    let answers: Vec<String> =
        fake.calls().iter().map(|c| c.content().to_string()).filter(|t| t.starts_with("Got ")).collect();
    let answered = |start: &str| answers.iter().find(|a| a.starts_with(start)).cloned().unwrap_or_default();
    assert_eq!(answered("Got report.txt"), "Got report.txt: contents of report.txt");
    assert_eq!(answered("Got notes.txt"), "Got notes.txt: contents of notes.txt");
    assert!(answered("Got huge.bin").contains("larger than this bot accepts"), "{answers:?}");
    assert!(answered("Got other.txt").contains("only Discord's CDN"), "{answers:?}");
    assert_eq!(answers.len(), 4, "{answers:?}");
    let fetched: Vec<String> =
        fake.calls().iter().filter(|c| c.path.starts_with("/attachments/")).map(|c| c.path.clone()).collect();
    let expected =
        ["900000000000000001/report.txt", "900000000000000004/notes.txt"].map(|f| format!("/attachments/{ANN_DM}/{f}"));
    assert_eq!(fetched, expected, "each small one once");
    assert!(fake.calls().iter().filter(|c| c.path.starts_with("/attachments/")).all(|c| c.auth.is_empty()), "no token");

    // In the guild: a command that mentions the bot is answered there, the mention taken off; one that does
    // not mention it is not read (no prefix commands), and neither is chatter.
    gateway.dispatch("MESSAGE_CREATE", message("800000000000000020", TEAM, Some(GUILD), "/echo not for me", json!({})));
    let mention = json!({ "mentions": [user(ME, true)] });
    gateway.dispatch(
        "MESSAGE_CREATE",
        message("800000000000000021", TEAM, Some(GUILD), &format!("<@{ME}> /echo hi all"), mention),
    );
    let answered = fake.until_content("hi all").await;
    assert_eq!(answered.path, format!("/channels/{TEAM}/messages"));
    assert_eq!(answered.content(), "hi all");
    assert!(!fake.calls().iter().any(|c| c.content().contains("not for me")));

    bot.stop().await.unwrap();
    crate::support::assert_token_never_logged();
}
