#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use palisade_core::{ChatRef, Platform, Section};
use serde_json::{Value, json};

use super::*;
use crate::api::Api;
use crate::payload::Push;

fn shared() -> Shared {
    let table = json!({ "bot_token": "xoxb-1-2-3", "app_token": "xapp-1-2-3" });
    let settings = Section::new("adapters.slack", table).unwrap().parse().unwrap();
    Shared::new(Arc::new(Api::new(&settings).unwrap()))
}

fn push(event: Value, enterprise: Value) -> Payload {
    let body = json!({ "type": "event_callback", "event_id": "Ev1", "team_id": "T1", "enterprise_id": enterprise,
        "event": event });
    let Push::EventCallback(e) = serde_json::from_value(body).unwrap() else { panic!() };
    Payload::Event(*e)
}

fn mapped(inbound: Inbound) -> (Event, Option<String>) {
    match inbound {
        Inbound::Event { event, trigger_id, .. } => (*event, trigger_id),
        other => panic!("expected an event, got {other:?}"),
    }
}

#[test]
fn direct_messages_become_events_with_immutable_ids() {
    let s = shared();
    let m = json!({ "type": "message", "user": "U1", "user_team": "T9", "text": "&lt;hi&gt; &amp; bye",
        "channel": "D1", "channel_type": "im", "ts": "1.2" });
    let (e, _) = mapped(map(push(m.clone(), Value::Null), &s, Some("UBOT")));
    assert_eq!(e.user.to_string(), "slack:T9/U1");
    assert_eq!(e.chat, ChatRef::new(Platform::SLACK, "D1", ChatKind::Direct));
    assert_eq!(e.kind, EventKind::Text("<hi> & bye".into()));
    assert_eq!(e.message_id, Some(MessageId("1.2".into())));
    let (e, _) = mapped(map(push(m, json!("E1")), &s, Some("UBOT")));
    assert_eq!(e.user.id, "E1/U1", "enterprise-aware");
}

/// The payloads as Slack documents them (Events API: `reaction_added`, `member_joined_channel`,
/// `member_left_channel`, `message` with subtype `message_changed`).
#[test]
fn joins_leaves_reactions_and_edits_are_events_of_their_own() {
    let s = shared();
    let kind_of = |event: Value| mapped(map(push(event, Value::Null), &s, Some("UBOT"))).0;
    let reaction = kind_of(json!({ "type": "reaction_added", "user": "U024BE7LH", "reaction": "thumbsup",
        "item_user": "U0G9QF9C6", "item": { "type": "message", "channel": "C0G9QF9GZ", "ts": "1360782400.498405" },
        "event_ts": "1360782804.083113" }));
    assert_eq!(reaction.user.to_string(), "slack:T1/U024BE7LH");
    assert_eq!(reaction.chat, ChatRef::new(Platform::SLACK, "C0G9QF9GZ", ChatKind::Group));
    assert_eq!(
        reaction.kind,
        EventKind::Reaction { message: MessageId("C0G9QF9GZ:1360782400.498405".into()), emoji: "thumbsup".into() }
    );
    let joined = kind_of(json!({ "type": "member_joined_channel", "user": "W06GH7XHN", "channel": "C0698JE0H",
        "channel_type": "C", "team": "T024BE7LD" }));
    assert_eq!(
        (joined.user.to_string(), joined.kind),
        ("slack:T024BE7LD/W06GH7XHN".to_string(), EventKind::MemberJoined)
    );
    let left = kind_of(json!({ "type": "member_left_channel", "user": "W06GH7XHN", "channel": "C0698JE0H",
        "channel_type": "C", "team": "T024BE7LD" }));
    assert_eq!(left.kind, EventKind::MemberLeft);
    let edited = kind_of(json!({ "type": "message", "subtype": "message_changed", "hidden": true,
        "channel": "C123ABC456", "ts": "1358878755.000001",
        "message": { "type": "message", "user": "U123ABC456", "text": "Hello, world! &amp; more", "ts": "1355517523.000005",
                     "edited": { "user": "U123ABC456", "ts": "1358878755.000000" } } }));
    assert_eq!(
        edited.kind,
        EventKind::Edited {
            message: MessageId("C123ABC456:1355517523.000005".into()),
            text: "Hello, world! & more".into()
        }
    );
    // The bot's own reactions and a reaction to a file are not events.
    let bots = json!({ "type": "reaction_added", "user": "UBOT", "reaction": "x",
        "item": { "type": "message", "channel": "C1", "ts": "1.1" } });
    assert!(matches!(map(push(bots, Value::Null), &s, Some("UBOT")), Inbound::Ignored(_)));
    let file =
        json!({ "type": "reaction_added", "user": "U1", "reaction": "x", "item": { "type": "file", "file": "F1" } });
    assert!(matches!(map(push(file, Value::Null), &s, Some("UBOT")), Inbound::Ignored(_)));
}

#[test]
fn bots_edits_and_foreign_events_are_ignored() {
    let s = shared();
    let base = json!({ "type": "message", "user": "U1", "text": "x", "channel": "C1", "channel_type": "channel" });
    let with = |k: &str, v: Value| {
        let mut m = base.clone();
        m[k] = v;
        map(push(m, Value::Null), &s, Some("UBOT"))
    };
    assert!(matches!(with("subtype", json!("channel_join")), Inbound::Ignored(_)));
    assert!(matches!(with("bot_id", json!("B1")), Inbound::Ignored(_)));
    assert!(matches!(with("user", json!("UBOT")), Inbound::Ignored(_)));
    assert!(matches!(with("type", json!("app_mention")), Inbound::Ignored(_)));
    assert!(matches!(with("user", json!("U1/../T2")), Inbound::Ignored(_)));
    let (e, _) = mapped(with("text", json!("<@UBOT> /balance now")));
    assert_eq!(e.chat.kind, ChatKind::Group);
    assert!(matches!(e.kind, EventKind::Command(ref c) if c.name == "balance" && c.raw_args == "now"));
}

#[test]
fn slash_commands_carry_their_trigger() {
    let s = shared();
    let form = b"team_id=T1&channel_id=C1&channel_name=general&user_id=U1&command=%2F2FA&text=setup&trigger_id=7.8";
    let (e, trigger) = mapped(map(Payload::command_from_form(form).unwrap(), &s, None));
    assert!(matches!(e.kind, EventKind::Command(ref c) if c.name == "2fa" && c.raw_args == "setup"));
    assert_eq!(e.chat.kind, ChatKind::Group);
    assert_eq!(trigger.as_deref(), Some("7.8"));
    let form = b"team_id=T1&channel_id=D1&channel_name=directmessage&user_id=U1&command=%2Fbalance&trigger_id=1";
    let (e, _) = mapped(map(Payload::command_from_form(form).unwrap(), &s, None));
    assert_eq!(e.chat.kind, ChatKind::Direct);
}

fn press(channel: &str, value: &str) -> Payload {
    Payload::Interaction(
        serde_json::from_value(json!({ "type": "block_actions", "team": { "id": "T1" },
            "user": { "id": "U1", "team_id": "T1" }, "channel": { "id": channel }, "trigger_id": "5.5",
            "container": { "type": "message", "message_ts": "3.3", "channel_id": channel },
            "actions": [{ "action_id": "palisade.button.0", "value": value }] }))
        .unwrap(),
    )
}

#[tokio::test]
async fn button_values_resolve_only_in_their_channel() {
    let s = shared();
    let chat = ChatRef::new(Platform::SLACK, "C1", ChatKind::Group);
    let id = s.buttons.register(&chat, "bank:confirm").await.unwrap();
    let (e, trigger) = mapped(map(press("C1", &id), &s, None));
    assert_eq!(e.kind, EventKind::Button("bank:confirm".into()));
    assert_eq!(e.chat, chat);
    assert_eq!(trigger.as_deref(), Some("5.5"));
    assert!(matches!(map(press("C2", &id), &s, None), Inbound::Expired { ref channel, .. } if channel == "C2"));
    assert!(matches!(map(press("C1", "bank:confirm"), &s, None), Inbound::Expired { .. }));
}

fn submission(kind: &str, ticket: &str, user: &str, code: &str) -> Payload {
    Payload::Interaction(
        serde_json::from_value(json!({ "type": kind, "team": { "id": "T1" }, "user": { "id": user, "team_id": "T1" },
            "view": { "id": "V1", "callback_id": modal::CALLBACK_ID, "private_metadata": ticket,
                "state": { "values": { "code": { "code": { "type": "plain_text_input", "value": code } } } } } }))
        .unwrap(),
    )
}

#[test]
fn modal_submissions_are_private_input_for_the_ticket_holder_only() {
    let s = shared();
    let ann = identity::user(None, Some("T1"), "U1").unwrap();
    let chat = ChatRef::new(Platform::SLACK, "C1", ChatKind::Group);
    let ticket = s.tickets.issue(&ann, &chat).unwrap();
    assert!(matches!(map(submission("view_submission", &ticket, "U2", "1"), &s, None), Inbound::Ignored(_)));
    let (e, _) = mapped(map(submission("view_submission", &ticket, "U1", "123456"), &s, None));
    assert_eq!((e.user, e.chat, e.private_input), (ann.clone(), chat.clone(), true));
    assert_eq!(e.kind, EventKind::Text("123456".into()));
    assert!(matches!(map(submission("view_submission", &ticket, "U1", "1"), &s, None), Inbound::Ignored(_)));
    let ticket = s.tickets.issue(&ann, &chat).unwrap();
    let (e, _) = mapped(map(submission("view_closed", &ticket, "U1", ""), &s, None));
    assert!(matches!(e.kind, EventKind::Command(ref c) if c.name == "cancel"));
}
