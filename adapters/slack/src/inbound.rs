//! Mapping authenticated payloads to neutral events: messages, slash commands, button presses and submitted
//! verification modals, and members joining or leaving channels, reactions and edited messages as events of
//! their own. Identity comes from ids only (see [`crate::identity`]); the bot's own messages and other
//! subtypes are ignored.

use palisade_core::{ChatKind, CommandCall, Event, EventKind, FileInfo, MessageId, UserRef};

use crate::blocks::{BUTTON_ACTION_PREFIX, unescape};
use crate::identity;
use crate::modal;
use crate::payload::{BlockActions, EventCallback, Interaction, Payload, SlashCommand, ViewInteraction};
use crate::shared::Shared;

/// What a payload amounts to.
#[derive(Debug)]
pub enum Inbound {
    /// An event for the dispatcher, with what the interaction leaves for the replies.
    Event {
        /// The event.
        event: Box<Event>,
        /// Lets a reply open a modal for three seconds.
        trigger_id: Option<String>,
        /// Lets replies be posted where the bot is not a member.
        response_url: Option<String>,
    },
    /// A press on a button the bot no longer remembers; the presser should be told.
    Expired {
        /// Who pressed.
        user: UserRef,
        /// Where.
        channel: String,
        /// Where to answer, if Slack gave one.
        response_url: Option<String>,
    },
    /// Several events from one payload, in order: a message sharing several files gives one per file.
    Events(Vec<Event>),
    /// Nothing to do; the reason is for debug logs and never includes content.
    Ignored(&'static str),
}

/// Maps `payload`; `bot_user` is the bot's own user id, whose messages are ignored.
pub fn map(payload: Payload, shared: &Shared, bot_user: Option<&str>) -> Inbound {
    match payload {
        Payload::Event(e) => message(e, shared, bot_user),
        Payload::Command(c) => command(c),
        Payload::Interaction(Interaction::BlockActions(a)) => actions(a, shared),
        Payload::Interaction(Interaction::ViewSubmission(v)) => view(v, shared, false),
        Payload::Interaction(Interaction::ViewClosed(v)) => view(v, shared, true),
        Payload::Interaction(Interaction::Other) => Inbound::Ignored("an interaction of a kind the bot does not use"),
    }
}

fn event(event: Event, trigger_id: Option<String>, response_url: Option<String>) -> Inbound {
    Inbound::Event { event: Box::new(event), trigger_id, response_url }
}

/// Members joining or leaving a channel, reactions and edited messages: events of their own kinds.
fn other_event(e: &EventCallback, bot_user: Option<&str>) -> Option<Inbound> {
    let m = &e.event;
    let author = |m: &crate::payload::MessageEvent| {
        let author = m.user.as_deref()?;
        if Some(author) == bot_user || m.bot_id.is_some() {
            return None;
        }
        let team = m.user_team.as_deref().or(m.team.as_deref()).or(Some(e.team_id.as_str()));
        identity::user(e.enterprise_id.as_deref(), team, author)
    };
    let (user, channel, kind) = match (m.kind.as_str(), m.subtype.as_deref()) {
        ("member_joined_channel", _) => (author(m), m.channel.clone(), EventKind::MemberJoined),
        ("member_left_channel", _) => (author(m), m.channel.clone(), EventKind::MemberLeft),
        ("reaction_added", _) => {
            let item = m.item.as_ref().filter(|i| i.kind == "message")?;
            let (channel, ts) = (item.channel.clone()?, item.ts.clone()?);
            let emoji = m.reaction.clone()?;
            (
                author(m),
                Some(channel.clone()),
                EventKind::Reaction { message: MessageId(format!("{channel}:{ts}")), emoji },
            )
        }
        ("message", Some("message_changed")) => {
            let now = m.message.as_deref()?;
            let (channel, ts, text) = (m.channel.clone()?, now.ts.clone()?, now.text.as_deref()?);
            let message = MessageId(format!("{channel}:{ts}"));
            (author(now), Some(channel), EventKind::Edited { message, text: unescape(text) })
        }
        _ => return None,
    };
    let Some(user) = user else { return Some(Inbound::Ignored("an event by the bot, a bot or a malformed id")) };
    let Some(chat) = channel.as_deref().and_then(|c| identity::chat(c, m.channel_type.as_deref())) else {
        return Some(Inbound::Ignored("an event without a valid channel"));
    };
    let mut event = Event::text(user, chat, "");
    event.kind = kind;
    Some(self::event(event, None, None))
}

fn message(e: EventCallback, shared: &Shared, bot_user: Option<&str>) -> Inbound {
    if let Some(inbound) = other_event(&e, bot_user) {
        return inbound;
    }
    let m = e.event;
    if m.kind != "message" {
        return Inbound::Ignored("not a message event");
    }
    let file_share = m.subtype.as_deref() == Some("file_share");
    if (m.subtype.is_some() && !file_share) || m.bot_id.is_some() {
        return Inbound::Ignored("an edit, a join, a bot's message or another subtype");
    }
    let text = m.text.as_deref().or(file_share.then_some(""));
    let (Some(author), Some(channel), Some(text)) = (m.user.as_deref(), m.channel.as_deref(), text) else {
        return Inbound::Ignored("a message without author, channel or text");
    };
    if Some(author) == bot_user {
        return Inbound::Ignored("the bot's own message");
    }
    let team = m.user_team.as_deref().or(m.team.as_deref()).or(Some(e.team_id.as_str()));
    let Some(user) = identity::user(e.enterprise_id.as_deref(), team, author) else {
        return Inbound::Ignored("a message with malformed ids");
    };
    let Some(mut chat) = identity::chat(channel, m.channel_type.as_deref()) else {
        return Inbound::Ignored("a message with a malformed channel id");
    };
    // A message in a thread (its replies, and a flow it starts, stay there); a thread's first message is not in
    // one until it has replies, and then only its replies carry the thread's timestamp.
    if let Some(thread) = m.thread_ts.as_deref().filter(|t| m.ts.as_deref() != Some(*t)) {
        chat = chat.in_thread(thread);
    }
    if m.channel_type.as_deref() == Some("im") {
        shared.api.remember_dm(author, channel);
    }
    let text = unescape(text);
    let addressed = bot_user.is_some_and(|me| text.contains(&format!("<@{me}>")));
    let text = strip_mention(&text, bot_user);
    if file_share {
        // One event per file, each with the text sent with them as its caption.
        let caption = Some(text).filter(|t| !t.is_empty());
        let files: Vec<Event> = m
            .files
            .iter()
            .filter(|f| !f.id.is_empty())
            .map(|file| {
                let kind = EventKind::File(FileInfo {
                    id: file.id.clone(),
                    name: file.name.clone(),
                    mime: file.mimetype.clone(),
                    size: file.size,
                    caption: caption.clone(),
                });
                let message_id = m.ts.clone().map(MessageId);
                let (user, chat) = (user.clone(), chat.clone());
                Event {
                    user,
                    display_name: None,
                    chat,
                    message_id,
                    kind,
                    private_input: false,
                    addressed,
                    language: None,
                }
            })
            .collect();
        return if files.is_empty() { Inbound::Ignored("a file share without files") } else { Inbound::Events(files) };
    }
    let kind = EventKind::from_text(&text, None);
    let event = Event {
        user,
        display_name: None,
        chat,
        message_id: m.ts.map(MessageId),
        kind,
        private_input: false,
        addressed,
        language: None,
    };
    self::event(event, None, None)
}

/// Drops a leading `<@BOT>` mention, as in "@palisade /help" typed in a channel.
fn strip_mention(text: &str, bot_user: Option<&str>) -> String {
    let trimmed = text.trim_start();
    match bot_user.and_then(|me| trimmed.strip_prefix(&format!("<@{me}>"))) {
        Some(rest) => rest.trim_start().to_string(),
        None => text.to_string(),
    }
}

fn command(c: SlashCommand) -> Inbound {
    let Some(user) = identity::user(c.enterprise_id.as_deref(), Some(&c.team_id), &c.user_id) else {
        return Inbound::Ignored("a command with malformed ids");
    };
    let Some(mut chat) = identity::chat(&c.channel_id, None) else {
        return Inbound::Ignored("a command with a malformed channel id");
    };
    // Any DM says "directmessage", a DM between two people too; the receiver confirms it is the user's DM
    // with the bot before it counts as private.
    if c.channel_name.as_deref() == Some("directmessage") {
        chat.kind = ChatKind::Direct;
    }
    let Some(call) = CommandCall::parse(&format!("{} {}", c.command, c.text), None) else {
        return Inbound::Ignored("a command whose name the bot cannot use");
    };
    let event = Event {
        user,
        display_name: None,
        chat,
        message_id: None,
        kind: EventKind::Command(call),
        private_input: false,
        addressed: true,
        language: None,
    };
    self::event(event, Some(c.trigger_id), c.response_url)
}

fn actions(a: BlockActions, shared: &Shared) -> Inbound {
    let enterprise = a.enterprise.as_ref().map(|e| e.id.as_str());
    let enterprise = enterprise.or(a.team.as_ref().and_then(|t| t.enterprise_id.as_deref()));
    let team = a.user.team_id.as_deref().or(a.team.as_ref().map(|t| t.id.as_str()));
    let Some(user) = identity::user(enterprise, team, &a.user.id) else {
        return Inbound::Ignored("a button press with malformed ids");
    };
    let container = a.container.unwrap_or_default();
    let Some(channel) = a.channel.map(|c| c.id).or(container.channel_id) else {
        return Inbound::Ignored("a button press outside a channel");
    };
    let Some(value) = a.actions.first().filter(|x| x.action_id.starts_with(BUTTON_ACTION_PREFIX)) else {
        return Inbound::Ignored("an action on an element the bot did not make");
    };
    let resolved = value.value.as_deref().and_then(|v| shared.buttons.resolve(v, &channel));
    let Some((chat, data)) = resolved else {
        return Inbound::Expired { user, channel, response_url: a.response_url };
    };
    let event = Event {
        user,
        display_name: None,
        chat,
        message_id: container.message_ts.map(MessageId),
        kind: EventKind::Button(data),
        private_input: false,
        addressed: true,
        language: None,
    };
    self::event(event, Some(a.trigger_id), a.response_url)
}

/// A verification modal submitted (its code) or closed (`/cancel`), typed where only the bot sees it.
fn view(v: ViewInteraction, shared: &Shared, closed: bool) -> Inbound {
    if v.view.callback_id != modal::CALLBACK_ID {
        return Inbound::Ignored("a modal the bot did not open");
    }
    let enterprise = v.enterprise.as_ref().map(|e| e.id.as_str());
    let enterprise = enterprise.or(v.team.as_ref().and_then(|t| t.enterprise_id.as_deref()));
    let team = v.user.team_id.as_deref().or(v.team.as_ref().map(|t| t.id.as_str()));
    let Some(user) = identity::user(enterprise, team, &v.user.id) else {
        return Inbound::Ignored("a modal submission with malformed ids");
    };
    let Some(chat) = shared.tickets.redeem(&v.view.private_metadata, &user) else {
        return Inbound::Ignored("a verification modal that is unknown, used, or someone else's");
    };
    let text = if closed { "/cancel".to_string() } else { modal::submitted_code(&v.view).unwrap_or_default() };
    let event = Event {
        user,
        display_name: None,
        chat,
        message_id: None,
        kind: EventKind::from_text(&text, None),
        private_input: true,
        addressed: true,
        language: None,
    };
    self::event(event, None, None)
}

#[cfg(test)]
mod tests;
