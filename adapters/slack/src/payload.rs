//! What Slack sends, read into small structs of only the fields this adapter uses, the same for both
//! transports: the Events API posts JSON events and form-encoded slash commands and interactions; Socket
//! Mode wraps the same payloads, as JSON, in envelopes.
//!
//! These are not slack-morphism's models on purpose: those drop `enterprise_id` from slash commands and
//! interactions, and identity must be enterprise-aware.

use std::collections::HashMap;

use serde::Deserialize;

/// One authenticated payload from Slack.
#[derive(Clone, Debug, PartialEq)]
pub enum Payload {
    /// An Events API event (`event_callback`).
    Event(EventCallback),
    /// A slash command.
    Command(SlashCommand),
    /// A button press, a modal submission, …
    Interaction(Interaction),
}

impl Payload {
    /// The id that makes a repeated delivery recognisable: the event id, or the trigger of a command or
    /// action, or the view of a submission.
    pub fn dedupe_key(&self) -> Option<String> {
        match self {
            Self::Event(e) => Some(format!("event:{}", e.event_id)),
            Self::Command(c) => Some(format!("trigger:{}", c.trigger_id)),
            Self::Interaction(Interaction::BlockActions(a)) => Some(format!("trigger:{}", a.trigger_id)),
            Self::Interaction(Interaction::ViewSubmission(v) | Interaction::ViewClosed(v)) => {
                Some(format!("view:{}:{}", v.view.id, v.view.hash.as_deref().unwrap_or_default()))
            }
            Self::Interaction(Interaction::Other) => None,
        }
    }

    /// A slash command from a form-encoded body (Events API). Errors never quote the body.
    pub fn command_from_form(body: &[u8]) -> Result<Self, &'static str> {
        serde_urlencoded::from_bytes(body).map(Self::Command).map_err(|_| "not a slash command")
    }

    /// An interaction from the form field `payload` (Events API). Errors never quote the body.
    pub fn interaction_from_form(body: &[u8]) -> Result<Self, &'static str> {
        let form: HashMap<String, String> = serde_urlencoded::from_bytes(body).map_err(|_| "not a form")?;
        let json = form.get("payload").ok_or("the form has no `payload` field")?;
        serde_json::from_str(json).map(Self::Interaction).map_err(|_| "not an interaction")
    }
}

/// The outer JSON of an Events API request.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Push {
    /// Slack checks the endpoint when it is configured: answer with the challenge.
    UrlVerification {
        /// The value to echo.
        challenge: String,
    },
    /// An event.
    EventCallback(Box<EventCallback>),
    /// Anything else (`app_rate_limited`, …): acknowledged and dropped.
    #[serde(other)]
    Other,
}

/// An `event_callback`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct EventCallback {
    /// Unique per event; retries repeat it.
    pub event_id: String,
    /// The workspace the event happened in.
    pub team_id: String,
    /// The Enterprise Grid organisation, if any.
    #[serde(default)]
    pub enterprise_id: Option<String>,
    /// The event itself.
    pub event: MessageEvent,
}

/// The inner event; only `message` events without a subtype become bot input.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct MessageEvent {
    /// `message`, `app_mention`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// Set for edits, joins, bot messages, …
    pub subtype: Option<String>,
    /// The author (`U…`/`W…`).
    pub user: Option<String>,
    /// Set when a bot wrote it.
    pub bot_id: Option<String>,
    /// The author's own workspace (differs from `team_id` in shared channels).
    pub user_team: Option<String>,
    /// The author's workspace, in older payloads.
    pub team: Option<String>,
    /// The text, with `&`, `<` and `>` escaped.
    pub text: Option<String>,
    /// The channel (`C…`, `G…`, `D…`).
    pub channel: Option<String>,
    /// `im`, `mpim`, `group` or `channel`.
    pub channel_type: Option<String>,
    /// The message's timestamp, which is its id within the channel.
    pub ts: Option<String>,
    /// The timestamp of the thread's first message, when the message was posted in a thread.
    pub thread_ts: Option<String>,
    /// `file_share`: the files shared with the message.
    pub files: Vec<SharedFile>,
    /// `reaction_added`: the reaction's name (`thumbsup`).
    pub reaction: Option<String>,
    /// `reaction_added`: what was reacted to.
    pub item: Option<ReactionItem>,
    /// `message_changed`: the message as it is now.
    pub message: Option<Box<MessageEvent>>,
}

/// A file shared in a message (`subtype: file_share`), as the Events API describes it.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct SharedFile {
    /// The file's id (`F…`): fetched with `files.info`.
    pub id: String,
    /// Its name.
    pub name: Option<String>,
    /// Its MIME type.
    pub mimetype: Option<String>,
    /// Its size in bytes.
    pub size: Option<u64>,
}

/// The item of a `reaction_added` event.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct ReactionItem {
    /// `message` (reactions to files are not taken).
    #[serde(rename = "type")]
    pub kind: String,
    /// Its channel.
    pub channel: Option<String>,
    /// Its timestamp.
    pub ts: Option<String>,
}

/// A slash command (form fields, or the same names in a Socket Mode payload).
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct SlashCommand {
    /// The workspace it was run in.
    pub team_id: String,
    /// The Enterprise Grid organisation (absent or empty otherwise).
    #[serde(default)]
    pub enterprise_id: Option<String>,
    /// Where it was run.
    pub channel_id: String,
    /// `directmessage`, `privategroup`, or the channel's name.
    #[serde(default)]
    pub channel_name: Option<String>,
    /// Who ran it.
    pub user_id: String,
    /// `/transfer`.
    pub command: String,
    /// The rest of the line.
    #[serde(default)]
    pub text: String,
    /// Where replies can be posted for 30 minutes, even where the bot is not a member.
    #[serde(default)]
    pub response_url: Option<String>,
    /// Lets the bot open a modal for the next three seconds.
    pub trigger_id: String,
}

/// An interactivity payload.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Interaction {
    /// Buttons pressed.
    BlockActions(BlockActions),
    /// A modal submitted.
    ViewSubmission(ViewInteraction),
    /// A modal closed with its close button (only for modals opened with `notify_on_close`).
    ViewClosed(ViewInteraction),
    /// Anything else: acknowledged and dropped.
    #[serde(other)]
    Other,
}

/// `block_actions`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct BlockActions {
    /// The workspace.
    #[serde(default)]
    pub team: Option<Team>,
    /// The organisation.
    #[serde(default)]
    pub enterprise: Option<Enterprise>,
    /// Who pressed.
    pub user: User,
    /// Where the message with the button is.
    #[serde(default)]
    pub channel: Option<Channel>,
    /// The message (or view) holding the button.
    #[serde(default)]
    pub container: Option<Container>,
    /// Lets the bot open a modal for the next three seconds.
    pub trigger_id: String,
    /// Where replies can be posted.
    #[serde(default)]
    pub response_url: Option<String>,
    /// The actions taken.
    #[serde(default)]
    pub actions: Vec<Action>,
}

/// `view_submission` and `view_closed`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct ViewInteraction {
    /// The workspace.
    #[serde(default)]
    pub team: Option<Team>,
    /// The organisation.
    #[serde(default)]
    pub enterprise: Option<Enterprise>,
    /// Who submitted.
    pub user: User,
    /// The modal with its state.
    pub view: View,
}

/// A workspace reference.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Team {
    /// `T…`.
    pub id: String,
    /// The organisation, in some payloads.
    #[serde(default)]
    pub enterprise_id: Option<String>,
}

/// An organisation reference.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Enterprise {
    /// `E…`.
    pub id: String,
}

/// A user reference.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct User {
    /// `U…` or `W…`.
    pub id: String,
    /// The user's own workspace.
    #[serde(default)]
    pub team_id: Option<String>,
}

/// A channel reference.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Channel {
    /// `C…`, `G…` or `D…`.
    pub id: String,
}

/// What holds the pressed button.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Container {
    /// The message's timestamp.
    pub message_ts: Option<String>,
    /// The message's channel.
    pub channel_id: Option<String>,
    /// True for an ephemeral message.
    pub is_ephemeral: Option<bool>,
}

/// One action.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Action {
    /// The element's action id.
    pub action_id: String,
    /// A button's value.
    #[serde(default)]
    pub value: Option<String>,
}

/// A modal as submitted.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct View {
    /// `V…`.
    pub id: String,
    /// Changes with every update of the view.
    #[serde(default)]
    pub hash: Option<String>,
    /// What the bot called this kind of modal.
    #[serde(default)]
    pub callback_id: String,
    /// What the bot stored in it.
    #[serde(default)]
    pub private_metadata: String,
    /// The inputs.
    #[serde(default)]
    pub state: ViewState,
}

/// Input values by block id, then action id.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct ViewState {
    /// block id → action id → value.
    #[serde(default)]
    pub values: HashMap<String, HashMap<String, InputValue>>,
}

/// One input's value.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct InputValue {
    /// The text typed (plain text inputs).
    #[serde(default)]
    pub value: Option<String>,
}

/// A Socket Mode envelope.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Envelope {
    /// `hello`, `disconnect`, `events_api`, `slash_commands`, `interactive`.
    #[serde(rename = "type")]
    pub kind: String,
    /// What the acknowledgement must name.
    #[serde(default)]
    pub envelope_id: Option<String>,
    /// The payload, as the Events API would post it.
    #[serde(default)]
    pub payload: Option<serde_json::Value>,
    /// How many times Slack has sent this before.
    #[serde(default)]
    pub retry_attempt: Option<u32>,
}

impl Envelope {
    /// The payload as a [`Payload`]; `Ok(None)` for kinds that carry none worth handling. Errors never
    /// quote the payload.
    pub fn into_payload(self) -> Result<Option<Payload>, &'static str> {
        let Some(value) = self.payload else { return Ok(None) };
        let bad = |_: serde_json::Error| "the payload does not have the fields this kind needs";
        match self.kind.as_str() {
            "events_api" => match serde_json::from_value::<Push>(value).map_err(bad)? {
                Push::EventCallback(e) => Ok(Some(Payload::Event(*e))),
                _ => Ok(None),
            },
            "slash_commands" => serde_json::from_value(value).map(|c| Some(Payload::Command(c))).map_err(bad),
            "interactive" => serde_json::from_value(value).map(|i| Some(Payload::Interaction(i))).map_err(bad),
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests;
