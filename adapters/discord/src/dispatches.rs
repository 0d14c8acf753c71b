//! Gateway dispatches as neutral events: messages (commands and text, and each attachment as a file),
//! edits, reactions, and members joining or leaving a guild.
//!
//! What a guild message may become depends on the settings, as the intents do: with `prefix_commands`, typed
//! commands; with `guild_mentions`, text that mentions the bot or replies to it (Discord sends the content
//! of such messages even without the privileged MESSAGE_CONTENT intent), the mention taken off. Direct
//! messages are always read. Messages, edits and reactions by bots are ignored. A thread on Discord is a
//! channel of its own, so replies to a message in a thread land in that thread.

use palisade_core::{ChatKind, ChatRef, Event, EventKind, FileInfo, MessageId, Platform, UserRef};
use serenity::all::{GuildId, Member, Message, MessageUpdateEvent, Reaction, ReactionType, User, UserId};

/// What guild traffic the bot takes (from `[adapters.discord]`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Reading {
    /// Commands typed in guild channels.
    pub prefix_commands: bool,
    /// Guild messages that mention the bot or reply to it.
    pub guild_mentions: bool,
}

fn user_ref(user: &User) -> UserRef {
    UserRef::new(Platform::DISCORD, user.id.to_string())
}

fn display_name(user: &User) -> String {
    user.global_name.clone().unwrap_or_else(|| user.name.clone())
}

fn chat(channel: impl ToString, guild: Option<GuildId>) -> ChatRef {
    let kind = if guild.is_some() { ChatKind::Group } else { ChatKind::Direct };
    ChatRef::new(Platform::DISCORD, channel.to_string(), kind)
}

fn event(user: &User, chat: ChatRef, message: Option<MessageId>, kind: EventKind, addressed: bool) -> Event {
    let mut event = Event::text(user_ref(user), chat, "");
    event.display_name = Some(display_name(user));
    event.message_id = message;
    event.kind = kind;
    event.addressed = addressed;
    event
}

/// `text` without a leading mention of the bot (`<@ID>` or `<@!ID>`).
fn strip_mention(text: &str, me: Option<UserId>) -> String {
    let text = text.trim();
    let Some(me) = me else { return text.to_string() };
    for form in [format!("<@{me}>"), format!("<@!{me}>")] {
        if let Some(rest) = text.strip_prefix(&form) {
            return rest.trim().to_string();
        }
    }
    text.to_string()
}

/// A message's attachments, as files the adapter can fetch (by their CDN addresses).
fn files(attachments: &[serenity::all::Attachment], caption: &str) -> Vec<EventKind> {
    let caption = Some(caption.to_string()).filter(|c| !c.is_empty());
    attachments
        .iter()
        .map(|a| {
            EventKind::File(FileInfo {
                id: a.url.clone(),
                name: Some(a.filename.clone()),
                mime: a.content_type.clone(),
                size: Some(u64::from(a.size)),
                caption: caption.clone(),
            })
        })
        .collect()
}

/// A new message as the events the bot takes from it (none, its text or command, or one per attachment);
/// `me` is the bot's user id once READY named it.
pub fn message(msg: &Message, me: Option<UserId>, reading: Reading) -> Vec<Event> {
    if msg.author.bot {
        return Vec::new();
    }
    let mentioned = me.is_some_and(|me| {
        msg.mentions.iter().any(|u| u.id == me) || msg.referenced_message.as_ref().is_some_and(|r| r.author.id == me)
    });
    let text = strip_mention(&msg.content, me);
    let typed = EventKind::from_text(&text, None);
    let kinds = match msg.guild_id {
        None => files(&msg.attachments, &text),
        Some(_) if reading.guild_mentions && mentioned => files(&msg.attachments, &text),
        Some(_) if reading.prefix_commands && matches!(typed, EventKind::Command(_)) => Vec::new(),
        Some(_) => return Vec::new(),
    };
    // The attachments, or else what was typed.
    let kinds = if kinds.is_empty() { vec![typed] } else { kinds };
    let addressed = msg.guild_id.is_none() || mentioned;
    let (chat, id) = (chat(msg.channel_id, msg.guild_id), MessageId(msg.id.to_string()));
    kinds
        .into_iter()
        .filter(|kind| !matches!(kind, EventKind::Text(t) if t.is_empty()))
        .map(|kind| event(&msg.author, chat.clone(), Some(id.clone()), kind, addressed))
        .collect()
}

/// An edited message's new text: in direct messages, and in guilds when it mentions the bot and the bot
/// reads such messages. Updates without text (an embed unfurled) are not edits.
pub fn edit(update: &MessageUpdateEvent, me: Option<UserId>, reading: Reading) -> Option<Event> {
    let author = update.author.as_ref().filter(|a| !a.bot)?;
    let content = update.content.as_deref()?;
    let mentioned = me.is_some_and(|me| update.mentions.as_ref().is_some_and(|m| m.iter().any(|u| u.id == me)));
    if update.guild_id.is_some() && !(reading.guild_mentions && mentioned) {
        return None;
    }
    let message = MessageId(update.id.to_string());
    let kind = EventKind::Edited { message: message.clone(), text: strip_mention(content, me) };
    Some(event(author, chat(update.channel_id, update.guild_id), Some(message), kind, true))
}

/// A reaction added to a message (a custom emoji as `custom:<id>`), unless a bot (this one included) added it.
pub fn reaction(r: &Reaction, me: Option<UserId>) -> Option<Event> {
    let user_id = r.user_id.filter(|id| Some(*id) != me)?;
    let member = r.member.as_ref().map(|m| &m.user);
    if member.is_some_and(|u| u.bot) {
        return None;
    }
    let emoji = match &r.emoji {
        ReactionType::Unicode(e) => e.clone(),
        ReactionType::Custom { id, .. } => format!("custom:{id}"),
        _ => return None,
    };
    let kind = EventKind::Reaction { message: MessageId(r.message_id.to_string()), emoji };
    let mut event =
        Event::text(UserRef::new(Platform::DISCORD, user_id.to_string()), chat(r.channel_id, r.guild_id), "");
    event.display_name = member.map(display_name);
    event.kind = kind;
    Some(event)
}

/// A member joining a guild. The event's chat is the guild itself (Discord names no channel for it): a reply
/// to it cannot be delivered, so a plugin greets newcomers privately (`Ctx::send_to`).
pub fn joined(member: &Member) -> Option<Event> {
    (!member.user.bot).then(|| {
        event(&member.user, chat(member.guild_id, Some(member.guild_id)), None, EventKind::MemberJoined, false)
    })
}

/// A member leaving a guild (or removed from it).
pub fn left(guild: GuildId, user: &User) -> Option<Event> {
    (!user.bot).then(|| event(user, chat(guild, Some(guild)), None, EventKind::MemberLeft, false))
}
