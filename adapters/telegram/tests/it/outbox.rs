//! The Telegram outbox on its own against the fake Bot API: where each kind of reply goes and what a failed
//! deletion says.

use palisade::{Adapter, ChatKind, ChatRef, MessageId, Platform, Reply, ReplyBody, Section, SendError, UserRef};
use palisade_telegram::TelegramAdapter;
use palisade_testkit::telegram::{Failure, FakeApi};
use serde_json::json;

const ANN: &str = "4242";
const TEAM: &str = "-100777";

fn reply(chat: &str, kind: ChatKind, private: bool, body: ReplyBody) -> Reply {
    Reply {
        chat: ChatRef::new(Platform::TELEGRAM, chat, kind),
        user: UserRef::new(Platform::TELEGRAM, ANN),
        private,
        body,
        retract: None,
    }
}

async fn adapter(fake: &FakeApi) -> TelegramAdapter {
    palisade_testkit::logs::capture();
    let table = crate::support::settings(fake, json!({ "bot_username": "palisade_test_bot" }));
    TelegramAdapter::from_section(&Section::new("adapters.telegram", table).unwrap()).unwrap()
}

#[tokio::test]
async fn each_kind_of_reply_reaches_the_right_chat() {
    let fake = FakeApi::start().await;
    let outbox = adapter(&fake).await.outbox();

    let file = ReplyBody::File { name: "export.json".into(), bytes: b"{}".to_vec(), caption: Some("Your data".into()) };
    let id = outbox.deliver(&reply(TEAM, ChatKind::Group, true, file)).await.unwrap();
    assert!(id.is_some(), "the id of the sent message is returned");
    let doc = fake.until("sendDocument", |c| c.method == "senddocument").await.pop().unwrap();
    assert_eq!(doc.chat_id(), Some(4242), "a private file from a group goes to the user's private chat");
    assert_eq!(doc.params["document"]["file"], "export.json");
    assert_eq!(doc.params["caption"], "Your data");

    let prompt = ReplyBody::CodePrompt { text: "To confirm, send the code.".into() };
    outbox.deliver(&reply(TEAM, ChatKind::Group, false, prompt)).await.unwrap();
    assert_eq!(fake.until_sent("To confirm").await.pop().unwrap().chat_id(), Some(4242), "code prompts are private");

    let text = ReplyBody::Text { text: "Hello, team.".into(), buttons: vec![] };
    outbox.deliver(&reply(TEAM, ChatKind::Group, false, text)).await.unwrap();
    let sent = fake.until_sent("Hello, team.").await.pop().unwrap();
    assert_eq!(sent.chat_id(), Some(-100_777));
    assert!(sent.params.get("reply_markup").is_none() && sent.params.get("parse_mode").is_none(), "plain text");

    let image = ReplyBody::Image { png: b"\x89PNG fake".to_vec(), caption: None };
    outbox.deliver(&reply(ANN, ChatKind::Direct, true, image)).await.unwrap();
    let photo = fake.until("sendPhoto", |c| c.method == "sendphoto").await.pop().unwrap();
    assert_eq!((photo.chat_id(), &photo.params["photo"]["png"]), (Some(4242), &json!(true)));
}

#[tokio::test]
async fn a_caption_longer_than_telegram_takes_follows_its_file_as_text() {
    let fake = FakeApi::start().await;
    let outbox = adapter(&fake).await.outbox();
    let long = "word ".repeat(300); // 1,500 characters: over the 1,024 a caption may have
    let file = ReplyBody::File { name: "export.json".into(), bytes: b"{}".to_vec(), caption: Some(long.clone()) };
    outbox.deliver(&reply(ANN, ChatKind::Direct, true, file)).await.unwrap();
    let doc = fake.until("sendDocument", |c| c.method == "senddocument").await.pop().unwrap();
    assert!(doc.params.get("caption").is_none(), "the file goes without the caption: {:?}", doc.params);
    let text = fake.until_sent("word word").await.pop().unwrap();
    assert_eq!(text.text(), long);
    let short = ReplyBody::Image { png: b"\x89PNG".to_vec(), caption: Some("Your code".into()) };
    outbox.deliver(&reply(ANN, ChatKind::Direct, true, short)).await.unwrap();
    let photo = fake.until("sendPhoto", |c| c.method == "sendphoto").await.pop().unwrap();
    assert_eq!(photo.params["caption"], "Your code", "a short caption travels with its image");
}

#[tokio::test]
async fn a_message_sent_first_is_edited_and_deleted_by_its_handle() {
    let fake = FakeApi::start().await;
    let outbox = adapter(&fake).await.outbox();
    let text = ReplyBody::Text { text: "The meeting moved.".into(), buttons: vec![] };
    let id = outbox.deliver(&reply(ANN, ChatKind::Direct, true, text)).await.unwrap().unwrap();
    let sent = fake.until_sent("The meeting moved.").await.pop().unwrap();
    let (chat, message) = id.0.split_once(':').unwrap();
    assert_eq!(chat, ANN);

    let edit = ReplyBody::Edit { message: id.clone(), text: "The meeting moved to 3pm.".into() };
    assert_eq!(outbox.deliver(&reply(ANN, ChatKind::Direct, true, edit)).await.unwrap(), Some(id.clone()));
    let call = fake.until("editMessageText", |c| c.method == "editmessagetext").await.pop().unwrap();
    assert_eq!(call.chat_id(), Some(4242));
    assert_eq!(call.params["message_id"].to_string(), message);
    assert_eq!(call.params["text"], "The meeting moved to 3pm.");
    assert!(sent.chat_id() == Some(4242));

    outbox.deliver(&reply(ANN, ChatKind::Direct, true, ReplyBody::Delete(id.clone()))).await.unwrap();
    let call = fake.until("deleteMessage", |c| c.method == "deletemessage").await.pop().unwrap();
    assert_eq!(call.params["message_id"].to_string(), message);
}

#[tokio::test]
async fn a_failed_deletion_says_what_to_fix_without_content() {
    let fake = FakeApi::start().await;
    let outbox = adapter(&fake).await.outbox();
    let delete = ReplyBody::Delete(MessageId("77".into()));
    outbox.deliver(&reply(TEAM, ChatKind::Group, false, delete.clone())).await.unwrap();
    let call = fake.until("deleteMessage", |c| c.method == "deletemessage").await.pop().unwrap();
    assert_eq!((call.chat_id(), &call.params["message_id"]), (Some(-100_777), &json!(77)));

    fake.fail_next("deletemessage", Failure::Api(400, "Bad Request: message can't be deleted"));
    let error = outbox.deliver(&reply(TEAM, ChatKind::Group, false, delete)).await.unwrap_err();
    assert!(matches!(&error, SendError::Rejected(m) if m.contains("admin right to delete messages")), "{error}");
    crate::support::assert_token_never_logged();
}

/// With the stock limits, a burst of 200 replies to 200 chats leaves at the overall rate (30 per second) and
/// never trips the limit of a fake that enforces it.
#[tokio::test]
async fn a_burst_to_200_chats_leaves_at_the_stock_rate_without_a_429() {
    let fake = FakeApi::start().await;
    fake.enforce_overall_limit(30);
    palisade_testkit::logs::capture();
    let table = crate::support::settings(&fake, json!({ "bot_username": "palisade_test_bot", "limits": {} }));
    let adapter = TelegramAdapter::from_section(&Section::new("adapters.telegram", table).unwrap()).unwrap();
    let store = palisade_testkit::memory_store().await;
    let dispatcher = palisade::Dispatcher::builder(Vec::new(), store).adapter(&adapter).build().unwrap();
    let replies: Vec<Reply> = (1..=200)
        .map(|chat| {
            let text = ReplyBody::Text { text: format!("notice {chat}"), buttons: vec![] };
            let mut r = reply(&chat.to_string(), ChatKind::Direct, false, text);
            r.user = UserRef::new(Platform::TELEGRAM, chat.to_string());
            r
        })
        .collect();
    dispatcher.outboxes().deliver(replies).await;
    let calls = fake.calls();
    let sends: Vec<_> = calls.iter().filter(|c| c.method == "sendmessage").collect();
    assert_eq!(sends.iter().filter(|c| c.status == 429).count(), 0, "the bot went over Telegram's limit");
    let mut chats: Vec<i64> = sends.iter().filter_map(|c| c.chat_id()).collect();
    chats.sort_unstable();
    assert_eq!(chats, (1..=200).collect::<Vec<i64>>(), "each chat got its message once");
}
