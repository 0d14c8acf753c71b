//! The Telegram adapter for Palisade, on teloxide (the only crate of the workspace that uses it).
//!
//! Updates arrive by long polling (`getUpdates`, the default: no public address needed) or by webhook (an
//! HTTP listener behind a TLS-terminating proxy, authenticated by a secret header). Users are their numeric
//! Telegram ids; private chats are direct, groups and supergroups are groups. Buttons carry random ids that
//! are resolved here, never the bot's own data. Step-up codes are asked for in the user's private chat, and
//! the message holding a code is deleted. Sends respect Telegram's rate limits and 429 answers, and the bot
//! token — which the Bot API puts in every URL — never appears in logs or errors.
//!
//! Register it in a binary with `Registry::new().adapter("telegram", palisade_telegram::factory)`, then
//! configure `[adapters.telegram]` (see [`TelegramSettings`]).
//!
//! # Layout
//!
//! | module | owns |
//! |---|---|
//! | [`settings`] | `[adapters.telegram]`: token, mode, API URL, webhook, send limits, and their checks |
//! | [`adapter`] | [`TelegramAdapter`]: start-up (getMe) and the choice between polling and webhook |
//! | [`api`] | the Bot API client: teloxide `Bot` on one pooled HTTP client, retries, safe error text |
//! | [`polling`] | the `getUpdates` loop and offset confirmation |
//! | [`webhook`] | the axum listener: secret check, dedupe, fast answers |
//! | [`receive`] | handing mapped updates to the dispatcher; answering button presses |
//! | `quiet` | reading updates without formatting the errors of teloxide's untagged enums |
//! | [`inbound`] | mapping updates to neutral events |
//! | [`outbox`] | delivering replies: text, keyboards, photos, deletions, group → private |
//! | `read_as` | sending a request with teloxide and reading its answer into a leaner type |
//! | `sent` | sending a message and reading back only its id |
//! | [`buttons`] | opaque button ids resolved server-side |
//! | [`retry`] | retry policy for 429 and network errors |
//! | [`redact`] | keeping the token out of every text this crate logs or returns |

pub mod adapter;
pub mod api;
pub mod buttons;
pub mod inbound;
pub mod outbox;
pub mod polling;
mod quiet;
mod read_as;
pub mod receive;
pub mod redact;
pub mod retry;
mod sent;
pub mod settings;
pub mod webhook;

pub use adapter::{CAPABILITIES, TelegramAdapter};
pub use outbox::TelegramOutbox;
pub use settings::{Mode, SendLimits, TelegramSettings, WebhookSettings};

use palisade_core::config::{Problem, Section};

/// Builds the adapter from its `[adapters.telegram]` table; give it to the runtime's `Registry::adapter("telegram", factory)`.
pub fn factory(section: &Section) -> Result<Box<dyn palisade_core::Adapter>, Vec<Problem>> {
    Ok(Box::new(TelegramAdapter::from_section(section)?))
}
