//! Mapping Telegram updates to neutral events: who (the numeric user id, never the @username), where (private
//! chat, group, supergroup, channel), and what (text, command, button press).

use palisade_core::{ChatKind, ChatRef, Event, EventKind, FileInfo, MessageId, Platform, UserRef};
use teloxide::types::{CallbackQuery, CallbackQueryId, Chat, Message, Update, UpdateKind, User};

use crate::buttons::ButtonIds;

/// What an update asks of the adapter.
#[derive(Debug)]
pub enum Inbound {
    /// Submit this event.
    Event(Event),
    /// Submit these events, in order: one service message can add several members.
    Events(Vec<Event>),
    /// A button press: answer the callback query (so the client stops spinning), then submit the event if the
    /// button was recognised.
    Callback {
        /// The query to answer.
        query: CallbackQueryId,
        /// The press, or `None` for a forgotten or foreign button.
        event: Option<Event>,
    },
    /// Nothing to do; the reason is a fixed label for logs.
    Ignored(&'static str),
}

/// Maps `update`; `username` is the bot's, so `/cmd@otherbot` is not taken as addressed to it.
pub fn map_update(update: Update, username: Option<&str>, buttons: &ButtonIds) -> Inbound {
    match update.kind {
        UpdateKind::Message(m) | UpdateKind::ChannelPost(m) => map_message(&m, username),
        UpdateKind::CallbackQuery(q) => map_callback(q, buttons),
        UpdateKind::EditedMessage(m) => map_edit(&m),
        UpdateKind::MessageReaction(r) => map_reaction(&r),
        UpdateKind::EditedChannelPost(_) => Inbound::Ignored("edited channel post"),
        _ => Inbound::Ignored("update kind not handled"),
    }
}

/// An event of `user` in `m`'s chat, about message `m`.
fn event_of(user: &User, m: &Message, kind: EventKind) -> Event {
    let mut event = Event::text(user_ref(user), in_topic(chat_ref(&m.chat), m), "");
    event.display_name = Some(user.first_name.clone());
    event.language = user.language_code.clone();
    event.message_id = Some(MessageId(m.id.0.to_string()));
    event.kind = kind;
    event
}

/// Members joining or leaving (service messages), or a file or image sent.
fn map_service_or_file(m: &Message, user: &User) -> Option<Inbound> {
    if let Some(members) = m.new_chat_members() {
        // One event per person added (bots left out), in the order Telegram lists them.
        let joined: Vec<Event> =
            members.iter().filter(|u| !u.is_bot).map(|u| event_of(u, m, EventKind::MemberJoined)).collect();
        return Some(match joined.len() {
            0 => Inbound::Ignored("bots joined"),
            _ => Inbound::Events(joined),
        });
    }
    if let Some(left) = m.left_chat_member().filter(|u| !u.is_bot) {
        return Some(Inbound::Event(event_of(left, m, EventKind::MemberLeft)));
    }
    let caption = m.caption().map(str::to_string);
    let file = if let Some(d) = m.document() {
        FileInfo {
            id: d.file.id.to_string(),
            name: d.file_name.clone(),
            mime: d.mime_type.as_ref().map(ToString::to_string),
            size: Some(u64::from(d.file.size)),
            caption,
        }
    } else if let Some(largest) = m.photo().and_then(|sizes| sizes.iter().max_by_key(|p| p.width * p.height)) {
        FileInfo {
            id: largest.file.id.to_string(),
            name: None,
            mime: Some("image/jpeg".into()),
            size: Some(u64::from(largest.file.size)),
            caption,
        }
    } else {
        return None;
    };
    Some(Inbound::Event(event_of(user, m, EventKind::File(file))))
}

/// An edited text message.
fn map_edit(m: &Message) -> Inbound {
    let (Some(user), Some(text)) = (m.from.as_ref().filter(|u| !u.is_bot), m.text()) else {
        return Inbound::Ignored("an edit without a user or text");
    };
    let kind = EventKind::Edited { message: MessageId(m.id.0.to_string()), text: text.to_string() };
    Inbound::Event(event_of(user, m, kind))
}

/// A reaction set on a message (the newest emoji of the new set; a removed reaction is not an event).
fn map_reaction(r: &teloxide::types::MessageReactionUpdated) -> Inbound {
    let Some(user) = r.user().filter(|u| !u.is_bot) else { return Inbound::Ignored("an anonymous reaction") };
    let emoji = r.new_reaction.iter().rev().find_map(|t| match t {
        teloxide::types::ReactionType::Emoji { emoji } => Some(emoji.clone()),
        teloxide::types::ReactionType::CustomEmoji { custom_emoji_id } => Some(format!("custom:{custom_emoji_id}")),
        _ => None,
    });
    let Some(emoji) = emoji else { return Inbound::Ignored("a reaction removed") };
    let mut event = Event::text(user_ref(user), chat_ref(&r.chat), "");
    event.display_name = Some(user.first_name.clone());
    event.language = user.language_code.clone();
    event.kind = EventKind::Reaction { message: MessageId(r.message_id.0.to_string()), emoji };
    Inbound::Event(event)
}

fn map_message(m: &Message, username: Option<&str>) -> Inbound {
    let Some(user) = m.from.as_ref() else { return Inbound::Ignored("message without a user (channel post)") };
    if user.is_bot {
        return Inbound::Ignored("message from a bot");
    }
    if let Some(inbound) = map_service_or_file(m, user) {
        return inbound;
    }
    let Some(text) = m.text() else { return Inbound::Ignored("message without text") };
    Inbound::Event(Event {
        user: user_ref(user),
        display_name: Some(user.first_name.clone()),
        chat: in_topic(chat_ref(&m.chat), m),
        message_id: Some(MessageId(m.id.0.to_string())),
        kind: EventKind::from_text(text, username),
        private_input: false,
        addressed: addresses_bot(m, text, username),
        language: user.language_code.clone(),
    })
}

fn map_callback(q: CallbackQuery, buttons: &ButtonIds) -> Inbound {
    let chat = q.message.as_ref().map(|m| m.chat().clone());
    let data = match (&chat, q.data.as_deref()) {
        (Some(chat), Some(id)) => buttons.resolve(id, chat.id.0),
        _ => None,
    };
    let shown_in = q.message.as_ref().and_then(|m| m.regular_message());
    let event = chat.zip(data).filter(|_| !q.from.is_bot).map(|(chat, data)| Event {
        user: user_ref(&q.from),
        display_name: Some(q.from.first_name.clone()),
        // A button pressed in a forum topic belongs to the conversation (and flow) of that topic.
        chat: match shown_in {
            Some(m) => in_topic(chat_ref(&chat), m),
            None => chat_ref(&chat),
        },
        message_id: None,
        kind: EventKind::Button(data),
        private_input: false,
        addressed: true,
        language: q.from.language_code.clone(),
    });
    Inbound::Callback { query: q.id, event }
}

/// Whether a message speaks to the bot: it mentions `@username` or replies to one of the bot's messages.
fn addresses_bot(m: &Message, text: &str, username: Option<&str>) -> bool {
    let Some(me) = username else { return false };
    let mentioned = text
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '@'))
        .any(|word| word.strip_prefix('@').is_some_and(|name| name.eq_ignore_ascii_case(me)));
    let replied = m
        .reply_to_message()
        .and_then(|r| r.from.as_ref())
        .is_some_and(|from| from.is_bot && from.username.as_deref().is_some_and(|u| u.eq_ignore_ascii_case(me)));
    mentioned || replied
}

/// `chat`, in the forum topic `m` was posted in, if any (replies and flows stay in the topic).
fn in_topic(chat: ChatRef, m: &Message) -> ChatRef {
    match m.thread_id.filter(|_| m.is_topic_message) {
        Some(topic) => chat.in_thread(topic.0.0.to_string()),
        None => chat,
    }
}

/// The user by numeric id.
pub fn user_ref(user: &User) -> UserRef {
    UserRef::new(Platform::TELEGRAM, user.id.0.to_string())
}

/// The chat by id, with its kind.
pub fn chat_ref(chat: &Chat) -> ChatRef {
    let kind = if chat.is_private() {
        ChatKind::Direct
    } else if chat.is_channel() {
        ChatKind::Channel
    } else {
        ChatKind::Group
    };
    ChatRef::new(Platform::TELEGRAM, chat.id.0.to_string(), kind)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use palisade_core::CommandCall;
    use serde_json::json;

    use super::*;

    fn update(v: serde_json::Value) -> Update {
        serde_json::from_str(&v.to_string()).unwrap()
    }

    fn message(chat: serde_json::Value, text: &str) -> Update {
        update(json!({ "update_id": 1, "message": {
            "message_id": 7, "date": 0, "chat": chat, "text": text,
            "from": { "id": 42, "is_bot": false, "first_name": "Ann", "username": "ann" } } }))
    }

    fn event(i: Inbound) -> Event {
        match i {
            Inbound::Event(e) => e,
            other => panic!("expected an event, got {other:?}"),
        }
    }

    #[test]
    fn maps_chat_kinds_users_by_id_and_commands_for_this_bot() {
        let private = json!({ "id": 42, "type": "private", "first_name": "Ann" });
        let e = event(map_update(message(private.clone(), "/help"), Some("pal_bot"), &ButtonIds::default()));
        assert_eq!(e.user, UserRef::new(Platform::TELEGRAM, "42"));
        assert_eq!(e.language, None);
        // The user's language, as the Bot API documents `language_code` (an IETF tag).
        let german = update(json!({ "update_id": 2, "message": { "message_id": 8, "date": 0, "chat": private,
            "text": "hallo", "from": { "id": 42, "is_bot": false, "first_name": "Ann", "language_code": "de" } } }));
        assert_eq!(event(map_update(german, None, &ButtonIds::default())).language.as_deref(), Some("de"));
        assert_eq!(e.chat.kind, ChatKind::Direct);
        assert_eq!(e.message_id, Some(MessageId("7".into())));
        let group = json!({ "id": -100, "type": "group", "title": "T" });
        let e = event(map_update(message(group, "/Help@Pal_Bot now"), Some("pal_bot"), &ButtonIds::default()));
        assert_eq!(e.chat.kind, ChatKind::Group);
        assert_eq!(e.kind, EventKind::Command(CommandCall { name: "help".into(), raw_args: "now".into() }));
        let sg = json!({ "id": -1001, "type": "supergroup", "title": "S" });
        let e = event(map_update(message(sg, "/help@other_bot"), Some("pal_bot"), &ButtonIds::default()));
        assert_eq!(e.chat.kind, ChatKind::Group);
        assert_eq!(e.kind, EventKind::Text("/help@other_bot".into()));
        let channel = json!({ "id": -1002, "type": "channel", "title": "C" });
        assert_eq!(event(map_update(message(channel, "hi"), None, &ButtonIds::default())).chat.kind, ChatKind::Channel);
    }

    #[tokio::test]
    async fn button_presses_resolve_only_known_ids_in_their_chat() {
        let buttons = ButtonIds::default();
        let id = buttons.register(42, "notes:yes").await.unwrap();
        let press = |data: &str, chat: i64| {
            update(json!({ "update_id": 2, "callback_query": {
                "id": "cb1", "chat_instance": "x", "data": data,
                "from": { "id": 42, "is_bot": false, "first_name": "Ann" },
                "message": { "message_id": 9, "date": 0, "text": "Delete?",
                    "chat": { "id": chat, "type": "private", "first_name": "Ann" } } } }))
        };
        match map_update(press(&id, 42), None, &buttons) {
            Inbound::Callback { query, event: Some(e) } => {
                assert_eq!(query.0, "cb1");
                assert_eq!(e.kind, EventKind::Button("notes:yes".into()));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(map_update(press(&id, 43), None, &buttons), Inbound::Callback { event: None, .. }));
        assert!(matches!(map_update(press("notes:yes", 42), None, &buttons), Inbound::Callback { event: None, .. }));
    }

    #[test]
    fn edits_are_events_and_other_non_text_is_ignored() {
        let private = json!({ "id": 42, "type": "private", "first_name": "Ann" });
        let edited = update(json!({ "update_id": 3, "edited_message": {
            "message_id": 7, "date": 0, "edit_date": 1, "chat": private, "text": "/help",
            "from": { "id": 42, "is_bot": false, "first_name": "Ann" } } }));
        match map_update(edited, None, &ButtonIds::default()) {
            // An edit is never run as a command again: it is an event of its own kind.
            Inbound::Event(e) => {
                assert_eq!(e.kind, EventKind::Edited { message: MessageId("7".into()), text: "/help".into() })
            }
            other => panic!("{other:?}"),
        }
        let sticker = update(json!({ "update_id": 4, "message": {
            "message_id": 8, "date": 0, "chat": private, "from": { "id": 42, "is_bot": false, "first_name": "Ann" },
            "dice": { "emoji": "🎲", "value": 3 } } }));
        assert!(matches!(map_update(sticker, None, &ButtonIds::default()), Inbound::Ignored(_)));
    }
}
