#![allow(clippy::unwrap_used)]

use serde_json::json;

use super::*;

#[test]
fn slash_commands_read_the_same_from_forms_and_socket_envelopes() {
    let form = b"team_id=T1&enterprise_id=E1&channel_id=D1&channel_name=directmessage&user_id=U1\
                 &command=%2Ftransfer&text=10+Bob&response_url=https%3A%2F%2Fhooks.slack.com%2Fx&trigger_id=1.2.3\
                 &token=legacy&user_name=someone";
    let Payload::Command(from_form) = Payload::command_from_form(form).unwrap() else { panic!() };
    assert_eq!(from_form.command, "/transfer");
    assert_eq!(from_form.text, "10 Bob");
    assert_eq!(from_form.enterprise_id.as_deref(), Some("E1"));
    let envelope: Envelope = serde_json::from_value(json!({
        "type": "slash_commands", "envelope_id": "env-1", "accepts_response_payload": true,
        "payload": { "team_id": "T1", "enterprise_id": "E1", "channel_id": "D1", "channel_name": "directmessage",
            "user_id": "U1", "command": "/transfer", "text": "10 Bob",
            "response_url": "https://hooks.slack.com/x", "trigger_id": "1.2.3", "token": "legacy" },
    }))
    .unwrap();
    assert_eq!(envelope.into_payload().unwrap(), Some(Payload::Command(from_form)));
}

#[test]
fn interactions_and_events_parse_and_unknown_kinds_pass() {
    let body = serde_urlencoded::to_string([(
        "payload",
        json!({ "type": "block_actions", "team": { "id": "T1" }, "enterprise": null,
                "user": { "id": "U1", "team_id": "T1", "name": "ignored" }, "trigger_id": "9.9",
                "channel": { "id": "C1", "name": "general" }, "actions": [{ "action_id": "a", "value": "v",
                "type": "button", "block_id": "b" }], "api_app_id": "A1" })
        .to_string(),
    )])
    .unwrap();
    let Payload::Interaction(Interaction::BlockActions(a)) = Payload::interaction_from_form(body.as_bytes()).unwrap()
    else {
        panic!()
    };
    assert_eq!(a.actions[0].value.as_deref(), Some("v"));
    assert_eq!(a.enterprise, None);
    let other: Interaction = serde_json::from_value(json!({ "type": "shortcut", "user": {} })).unwrap();
    assert_eq!(other, Interaction::Other);
    let push: Push = serde_json::from_value(json!({ "type": "app_rate_limited", "minute_rate_limited": 1 })).unwrap();
    assert_eq!(push, Push::Other);
    let push: Push = serde_json::from_value(json!({ "type": "event_callback", "event_id": "Ev1", "team_id": "T1",
        "enterprise_id": null, "event": { "type": "message", "user": "U1", "text": "hi", "channel": "D1",
        "channel_type": "im", "ts": "1.2", "blocks": [] } }))
    .unwrap();
    let Push::EventCallback(e) = push else { panic!() };
    assert_eq!(Payload::Event(*e).dedupe_key().as_deref(), Some("event:Ev1"));
}
