//! Sending with teloxide and reading back only the sent message's id.
//!
//! Telegram answers `sendMessage` with the whole message it made: chat, sender, text, entities, keyboard. The
//! outbox keeps only the message's id (to edit or delete it later), and reading the answer into teloxide's
//! full `Message` type cost about 33 000 instructions per reply, two fifths as much as the rest of its
//! delivery (the type is a tree of untagged enums, tried one variant after another, each failed try
//! formatting an error; see docs/PERFORMANCE.md). [`IdOnly`] sends the same request (see `crate::read_as`)
//! and reads the answer's `message_id` alone; the rest of the message is skipped unread.

use serde::Deserialize;

/// The payload `P` of a method that answers with a message, sent as teloxide sends `P`, its answer read only
/// for the message's id.
pub(crate) type IdOnly<P> = crate::read_as::ReadAs<P, Sent>;

/// What is read of a sent message.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub(crate) struct Sent {
    /// Its id in its chat.
    pub message_id: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use teloxide::types::Message;

    /// A `sendMessage` answer's message with every part the outbox's messages can have: a forum topic, an
    /// entity, an inline keyboard, a link preview setting.
    const SENT: &str = r#"{"message_id":4711,"message_thread_id":17,"is_topic_message":true,
        "from":{"id":999,"is_bot":true,"first_name":"Palisade","username":"palisade_bot"},
        "chat":{"id":-1001234567890,"title":"Team","type":"supergroup","is_forum":true},
        "date":1700000000,"text":"Send 5.00 to Bob? /confirm",
        "entities":[{"offset":18,"length":8,"type":"bot_command"}],
        "link_preview_options":{"is_disabled":true},
        "reply_markup":{"inline_keyboard":[[{"text":"Confirm","callback_data":"k3v9"},
            {"text":"Cancel","callback_data":"k3w0"}]]}}"#;

    #[test]
    fn the_id_read_is_the_one_teloxide_reads_from_the_whole_message() {
        let whole: Message = serde_json::from_str(SENT).expect("teloxide reads the message");
        let sent: Sent = serde_json::from_str(SENT).expect("the id is read");
        assert_eq!(sent.message_id, i64::from(whole.id.0));
        assert_eq!(sent, Sent { message_id: 4711 });
    }

    #[test]
    fn an_answer_without_an_id_is_an_error_not_a_guess() {
        let error = serde_json::from_str::<Sent>(r#"{"chat":{"id":1,"type":"private"},"date":1}"#).unwrap_err();
        assert!(error.to_string().contains("missing field `message_id`"), "{error}");
    }
}
