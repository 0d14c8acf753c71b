//! Gateway mode on loopback: serenity finds the fake gateway through `GET /gateway` on the fake REST API
//! (its proxy), identifies with only the DIRECT_MESSAGES intent, answers a slash command through the
//! interaction callback, answers a typed DM with a channel message, and ignores guild messages when prefix
//! commands are off.

use crate::support::fake::FakeRest;
use crate::support::gateway::FakeGateway;
use crate::support::{ANN, ANN_DM, APP, GUILD, Options, Signer, TEAM, TOKEN};
use axum::http::Method;
use serde_json::{Value, json};

fn user(id: &str) -> Value {
    json!({ "id": id, "username": "ann", "discriminator": "0", "global_name": "Ann", "avatar": null })
}

fn dm_command(id: &str, token: &str, name: &str) -> Value {
    json!({
        "id": id, "application_id": APP, "type": 2, "token": token, "version": 1, "locale": "en-US",
        "entitlements": [], "attachment_size_limit": 8_388_608, "app_permissions": "0",
        "channel_id": ANN_DM, "channel": { "id": ANN_DM, "type": 1 }, "user": user(ANN),
        "data": { "id": "1", "name": name, "type": 1 },
    })
}

fn message(id: &str, channel: &str, guild: Option<&str>, content: &str) -> Value {
    let mut m = json!({
        "id": id, "channel_id": channel, "author": user(ANN), "content": content,
        "timestamp": "2025-01-01T00:00:00.000000+00:00", "edited_timestamp": null, "tts": false,
        "mention_everyone": false, "mentions": [], "mention_roles": [], "attachments": [], "embeds": [],
        "pinned": false, "type": 0,
    });
    if let Some(g) = guild {
        m["guild_id"] = json!(g);
    }
    m
}

/// The fake REST API and gateway, and a bot on them whose `[adapters.discord]` adds `extra`.
async fn gateway_bot(extra: Value) -> (FakeRest, FakeGateway, tempfile::TempDir, palisade_testkit::Running) {
    let fake = FakeRest::start().await;
    let gateway = FakeGateway::start().await;
    fake.set_gateway(&gateway.url);
    let dir = tempfile::tempdir().unwrap();
    let table = crate::support::settings(&fake, &Signer::generate().public_hex(), extra);
    let bot = crate::support::start(table, dir.path(), Options::default()).await;
    (fake, gateway, dir, bot)
}

#[tokio::test]
async fn the_gateway_takes_slash_commands_and_direct_messages_with_minimal_intents() {
    let (fake, gateway, _dir, bot) = gateway_bot(json!({ "mode": "gateway" })).await;

    let identify = gateway.identified().await;
    assert_eq!(identify["intents"], 1 << 12, "DIRECT_MESSAGES only");
    assert_eq!(identify["token"], format!("Bot {TOKEN}"));
    assert!(fake.calls().iter().any(|c| c.method == Method::GET && c.path.starts_with("/gateway")));

    gateway.dispatch("INTERACTION_CREATE", dm_command("700000000000000001", "gtok-1", "balance"));
    let callback = fake.until("answering the interaction", |c| c.path.starts_with("/interactions/")).await;
    assert_eq!(callback.path, "/interactions/700000000000000001/gtok-1/callback");
    assert_eq!(callback.body["type"], 4);
    assert_eq!(callback.body["data"]["content"], "Your balance is 1000.00.");

    // A guild message is ignored without prefix commands; a DM is answered in the DM channel.
    gateway.dispatch("MESSAGE_CREATE", message("800000000000000001", TEAM, Some(GUILD), "/balance"));
    gateway.dispatch("MESSAGE_CREATE", message("800000000000000002", ANN_DM, None, "/echo hello there"));
    let sent = fake.until_content("hello there").await;
    assert_eq!(sent.path, format!("/channels/{ANN_DM}/messages"));
    assert!(!fake.calls().iter().any(|c| c.path == format!("/channels/{TEAM}/messages")));

    // The same dispatches sent again (as a gateway may after a resume) run nothing a second time: the next
    // answer in the DM is to a new message, and no second callback went out.
    gateway.dispatch("INTERACTION_CREATE", dm_command("700000000000000001", "gtok-1", "balance"));
    gateway.dispatch("MESSAGE_CREATE", message("800000000000000002", ANN_DM, None, "/echo hello there"));
    gateway.dispatch("MESSAGE_CREATE", message("800000000000000003", ANN_DM, None, "/echo once more"));
    fake.until_content("once more").await;
    let calls = fake.calls();
    let callbacks = calls.iter().filter(|c| c.path.starts_with("/interactions/700000000000000001/")).count();
    assert_eq!(callbacks, 1, "the repeated interaction was answered again");
    let echoes = calls.iter().filter(|c| c.body["content"] == "hello there").count();
    assert_eq!(echoes, 1, "the repeated message was answered again");
    assert!(bot.rejections.states().contains(&palisade_core::Connection::Connected), "READY reported for status");

    bot.stop().await.unwrap();
    crate::support::assert_token_never_logged();
}

#[tokio::test]
async fn prefix_commands_in_a_guild_ask_for_message_content_and_answer_privately_in_a_dm() {
    let (fake, gateway, _dir, bot) = gateway_bot(json!({ "mode": "gateway", "prefix_commands": true })).await;
    let identify = gateway.identified().await;
    assert_eq!(identify["intents"], (1 << 12) | (1 << 9) | (1 << 15), "DMs, guild messages, message content");

    // Plain chatter in the guild is not taken; a command is. Its private part goes to Ann's DM channel.
    gateway.dispatch("MESSAGE_CREATE", message("800000000000000003", TEAM, Some(GUILD), "hello all"));
    gateway.dispatch("MESSAGE_CREATE", message("800000000000000004", TEAM, Some(GUILD), "/2fa setup"));
    let public = fake.until_content("I sent you a private message about /2fa setup.").await;
    assert_eq!(public.path, format!("/channels/{TEAM}/messages"));
    let private = fake.until_content("For your security").await;
    let opened = fake.until("opening a DM", |c| c.path == "/users/@me/channels").await;
    assert_eq!(opened.body["recipient_id"], ANN);
    assert_eq!(private.path, format!("/channels/7{ANN}/messages"), "the DM channel the fake opened");
    let in_team = fake.calls().into_iter().filter(|c| c.path == format!("/channels/{TEAM}/messages")).count();
    assert_eq!(in_team, 1, "nothing answered the chatter, nothing private in the guild");

    bot.stop().await.unwrap();
    crate::support::assert_token_never_logged();
}

#[tokio::test]
async fn messages_sent_in_quick_succession_are_answered_in_order() {
    let (fake, gateway, _dir, bot) = gateway_bot(json!({ "mode": "gateway" })).await;
    gateway.identified().await;
    // serenity handles each dispatch on a task of its own; the adapter puts them back in order.
    for n in 0..12 {
        let id = format!("8100000000000000{n:02}");
        gateway.dispatch("MESSAGE_CREATE", message(&id, ANN_DM, None, &format!("/echo number {n}")));
    }
    fake.until_content("number 11").await;
    for _ in 0..50 {
        if fake.calls().iter().filter(|c| c.content().starts_with("number ")).count() == 12 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let echoed: Vec<String> =
        fake.calls().iter().map(|c| c.content().to_string()).filter(|t| t.starts_with("number ")).collect();
    let sent: Vec<String> = (0..12).map(|n| format!("number {n}")).collect();
    assert_eq!(echoed, sent);
    bot.stop().await.unwrap();
}
