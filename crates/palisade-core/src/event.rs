//! The neutral inbound event model every adapter maps its platform's traffic into.
//!
//! Identity is always the platform's *immutable* id (a Telegram user id, a Slack `T…/U…` pair, a Discord
//! snowflake). Display names travel alongside for politeness only and are never used to decide anything.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use crate::platform::Platform;

/// A user, named by the platform's immutable id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UserRef {
    /// Where the id is valid.
    pub platform: Platform,
    /// The immutable id (`123456`, `T024BE7LD/U0G9QF9C6`, `80351110224678912`).
    pub id: String,
}

impl UserRef {
    /// A user on `platform` with immutable id `id`.
    pub fn new(platform: Platform, id: impl Into<String>) -> Self {
        Self { platform, id: id.into() }
    }
}

impl UserRef {
    /// Why `id` cannot be a user id on `platform`, for the platforms whose id shapes are known: Telegram
    /// user ids are positive integers, Discord's are snowflakes (17 to 20 digits), Slack's are
    /// `TEAM/USER` (`T…/U…` or `W…`), the console's have no spaces. Other platforms' ids are taken as given.
    pub fn id_problem(platform: Platform, id: &str) -> Option<String> {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let slack_part = |s: &str, first: &[u8]| {
            s.len() >= 2
                && first.contains(&s.as_bytes()[0])
                && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        };
        let problem = match platform {
            p if id.is_empty() || id.chars().any(char::is_whitespace) => {
                Some(format!("a {p} id is never empty and has no spaces"))
            }
            Platform::TELEGRAM if !digits(id) || id.starts_with('0') => {
                Some("a Telegram user id is a positive number, e.g. 123456789".to_string())
            }
            Platform::DISCORD if !(digits(id) && (17..=20).contains(&id.len())) => {
                Some("a Discord user id is a snowflake of 17 to 20 digits, e.g. 80351110224678912".to_string())
            }
            Platform::SLACK => match id.split_once('/') {
                Some((team, user)) if slack_part(team, b"TE") && slack_part(user, b"UW") => None,
                _ => Some("a Slack user id is TEAM/USER, e.g. T024BE7LD/U0G9QF9C6".to_string()),
            },
            _ => None,
        };
        problem.map(|p| format!("`{id}` is not a {platform} user id: {p}"))
    }
}

impl fmt::Display for UserRef {
    /// Renders the identity form used in configuration: `platform:id`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.platform, self.id)
    }
}

impl FromStr for UserRef {
    type Err = String;
    /// Parses `platform:id`, the form roles and admin lists use in TOML.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (platform, id) = s
            .split_once(':')
            .ok_or_else(|| format!("identity `{s}` must look like `platform:id`, e.g. `telegram:123456`"))?;
        let platform: Platform = platform.parse()?;
        if id.is_empty() || id.chars().any(char::is_whitespace) {
            return Err(format!("identity `{s}` has an empty id or one with spaces"));
        }
        Ok(Self::new(platform, id))
    }
}

/// What kind of conversation a chat is; decides whether secrets may be shown in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatKind {
    /// A one-to-one conversation between the user and the bot.
    Direct,
    /// A group or multi-person conversation.
    Group,
    /// A broadcast channel.
    Channel,
}

/// A chat (conversation place), named by the platform's id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChatRef {
    /// Where the id is valid.
    pub platform: Platform,
    /// The platform's chat or channel id.
    pub id: String,
    /// Direct, group or channel.
    pub kind: ChatKind,
    /// The thread within the chat (a Telegram forum topic, a Slack thread), when the event came from one:
    /// replies go back into it, and a flow started there stays there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<String>,
}

impl ChatRef {
    /// A chat on `platform`.
    pub fn new(platform: Platform, id: impl Into<String>, kind: ChatKind) -> Self {
        Self { platform, id: id.into(), kind, thread: None }
    }

    /// The same chat, in thread `thread`.
    #[must_use]
    pub fn in_thread(mut self, thread: impl Into<String>) -> Self {
        self.thread = Some(thread.into());
        self
    }

    /// The id conversations are kept under: the chat's, and its thread's when there is one.
    pub fn conversation_id(&self) -> String {
        match &self.thread {
            Some(thread) => format!("{}#{thread}", self.id),
            None => self.id.clone(),
        }
    }

    /// True when only the user and the bot can read it.
    pub fn is_private(&self) -> bool {
        self.kind == ChatKind::Direct
    }

    /// The user's direct chat with the bot, wherever the platform keeps it: a reply addressed here reaches
    /// the user privately even when nothing was ever received from that chat (an alert to an admin). Adapters
    /// resolve it: a Telegram private chat has the user's id, Slack opens the DM with `conversations.open`,
    /// Discord creates the DM channel.
    pub fn direct_with(user: &UserRef) -> Self {
        Self::new(user.platform, user.id.clone(), ChatKind::Direct)
    }

    /// True for [`ChatRef::direct_with`] `user`.
    pub fn is_direct_with(&self, user: &UserRef) -> bool {
        self.kind == ChatKind::Direct && self.platform == user.platform && self.id == user.id
    }
}

/// The unit of ordering and of conversation state: one user in one chat.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ConversationKey {
    /// The user.
    pub user: UserRef,
    /// The chat id on the user's platform.
    pub chat_id: String,
}

/// A platform message id, kept as text because platforms disagree on its type.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MessageId(pub String);

/// A command as the user typed it: `/name arg1 arg2 …`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandCall {
    /// Lowercased name without the slash or `@botname` suffix.
    pub name: String,
    /// Everything after the name, trimmed.
    pub raw_args: String,
}

impl CommandCall {
    /// Parses `/name@bot args`. Returns `None` for text that is not a command, or for a command addressed to
    /// another bot (`/help@otherbot`) when `bot_username` is known.
    pub fn parse(text: &str, bot_username: Option<&str>) -> Option<Self> {
        let rest = text.trim_start().strip_prefix('/')?;
        let (head, raw_args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        let (name, addressee) = match head.split_once('@') {
            Some((name, to)) => (name, Some(to)),
            None => (head, None),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return None;
        }
        if let (Some(to), Some(me)) = (addressee, bot_username)
            && !to.eq_ignore_ascii_case(me)
        {
            return None;
        }
        Some(Self { name: name.to_ascii_lowercase(), raw_args: raw_args.trim().to_string() })
    }

    /// The arguments split on whitespace.
    pub fn words(&self) -> Vec<&str> {
        self.raw_args.split_whitespace().collect()
    }
}

/// What happened. New kinds may be added: match with a wildcard arm.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum EventKind {
    /// Plain text (also the answer to a flow's question).
    Text(String),
    /// A command with its arguments.
    Command(CommandCall),
    /// A button press, carrying the opaque data the bot attached to the button.
    Button(String),
    /// The user joined the chat (a group or channel the bot is in).
    MemberJoined,
    /// The user left the chat, or was removed from it.
    MemberLeft,
    /// The user reacted to a message.
    Reaction {
        /// The message reacted to.
        message: MessageId,
        /// The reaction (an emoji, or the platform's name for a custom one).
        emoji: String,
    },
    /// The user edited one of their messages.
    Edited {
        /// The message edited.
        message: MessageId,
        /// Its new text.
        text: String,
    },
    /// The user sent a file or an image.
    File(FileInfo),
}

/// A file a user sent: what the platform says about it. The bytes are not fetched until a plugin asks
/// ([`crate::Ctx::fetch_file`]), and never beyond the operator's size cap.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    /// The platform's reference to the file (what the adapter fetches it by).
    pub id: String,
    /// Its name, when the platform gives one.
    pub name: Option<String>,
    /// Its content type (`image/jpeg`), when known.
    pub mime: Option<String>,
    /// Its size in bytes, when known.
    pub size: Option<u64>,
    /// The text sent with it.
    pub caption: Option<String>,
}

impl EventKind {
    /// Classifies typed text: a command if it parses as one, plain text otherwise.
    pub fn from_text(text: &str, bot_username: Option<&str>) -> Self {
        match CommandCall::parse(text, bot_username) {
            Some(call) => Self::Command(call),
            None => Self::Text(text.to_string()),
        }
    }
}

/// One inbound event, already authenticated and deduplicated by its adapter.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Event {
    /// Who acted (immutable id).
    pub user: UserRef,
    /// The user's display name, for greetings only; never for decisions.
    pub display_name: Option<String>,
    /// Where it happened.
    pub chat: ChatRef,
    /// The platform's id of the user's message, when there is one (so it can be deleted).
    pub message_id: Option<MessageId>,
    /// What happened.
    pub kind: EventKind,
    /// True when the content was typed somewhere only the bot sees (a modal, an ephemeral prompt).
    pub private_input: bool,
    /// True when the message speaks to the bot in a group: it mentions the bot or replies to one of its
    /// messages. (Direct chats always speak to the bot.) Free text in groups reaches plugins only when it is
    /// addressed, unless a matcher says otherwise ([`crate::InGroups`]).
    #[serde(default)]
    pub addressed: bool,
    /// The user's language as their platform names it (`de`, `pt-BR`), when it does: built-in texts are
    /// given in it where the operator provides them ([`crate::texts`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

impl Event {
    /// A convenience constructor used by adapters and tests: `text` is classified as command or plain text.
    pub fn text(user: UserRef, chat: ChatRef, text: &str) -> Self {
        Self {
            user,
            display_name: None,
            chat,
            message_id: None,
            kind: EventKind::from_text(text, None),
            private_input: false,
            addressed: false,
            language: None,
        }
    }

    /// The conversation (user in chat) this event belongs to.
    pub fn conversation(&self) -> ConversationKey {
        ConversationKey { user: self.user.clone(), chat_id: self.chat.conversation_id() }
    }

    /// A short label of the event's kind for logs; never includes content.
    pub fn kind_label(&self) -> &'static str {
        match self.kind {
            EventKind::Text(_) => "text",
            EventKind::Command(_) => "command",
            EventKind::Button(_) => "button",
            EventKind::MemberJoined => "member joined",
            EventKind::MemberLeft => "member left",
            EventKind::Reaction { .. } => "reaction",
            EventKind::Edited { .. } => "edit",
            EventKind::File(_) => "file",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands_with_bot_suffix_and_args() {
        let call = CommandCall::parse("/Note@PalisadeBot  buy milk ", Some("palisadebot")).unwrap();
        assert_eq!(call.name, "note");
        assert_eq!(call.raw_args, "buy milk");
        assert_eq!(call.words(), ["buy", "milk"]);
        assert_eq!(CommandCall::parse("/help@otherbot", Some("palisadebot")), None);
        assert_eq!(CommandCall::parse("hello /help", None), None);
        assert_eq!(CommandCall::parse("/", None), None);
        assert_eq!(CommandCall::parse("/ä", None), None);
    }

    #[test]
    fn known_platforms_check_id_shapes() {
        assert_eq!(UserRef::id_problem(Platform::TELEGRAM, "123456789"), None);
        assert!(UserRef::id_problem(Platform::TELEGRAM, "@ann").unwrap().contains("positive number"));
        assert_eq!(UserRef::id_problem(Platform::DISCORD, "80351110224678912"), None);
        assert!(UserRef::id_problem(Platform::DISCORD, "12345").is_some());
        assert_eq!(UserRef::id_problem(Platform::SLACK, "T024BE7LD/U0G9QF9C6"), None);
        assert!(UserRef::id_problem(Platform::SLACK, "U0G9QF9C6").unwrap().contains("TEAM/USER"));
        assert_eq!(UserRef::id_problem(Platform::CONSOLE, "ann"), None);
        assert!(UserRef::id_problem(Platform::CONSOLE, "a b").is_some());
    }

    #[test]
    fn identities_round_trip_and_reject_garbage() {
        let u: UserRef = "slack:T024BE7LD/U0G9QF9C6".parse().unwrap();
        assert_eq!(u.platform, Platform::SLACK);
        assert_eq!(u.to_string(), "slack:T024BE7LD/U0G9QF9C6");
        assert!("alice".parse::<UserRef>().unwrap_err().contains("platform:id"));
        assert!("irc:alice".parse::<UserRef>().unwrap_err().contains("unknown platform"));
        assert!("telegram:".parse::<UserRef>().is_err());
    }
}
