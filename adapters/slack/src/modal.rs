//! The verification modal: a form with one text input, opened with `views.open` so a step-up code is typed
//! where only the user and the bot see it — never into a channel's history.
//!
//! The modal carries an opaque ticket in `private_metadata`; the ticket is resolved here to the user it was
//! opened for and the chat the suspended action belongs to, and is good for one submission.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use palisade_core::{ChatRef, UserRef};
use palisade_crypto::CryptoError;
use slack_morphism::blocks::{
    SlackBlock, SlackBlockPlainText, SlackBlockPlainTextInputElement, SlackBlockText, SlackInputBlock, SlackModalView,
    SlackSectionBlock, SlackView,
};

use crate::blocks::truncate;
use crate::payload::View;

/// The modal's `callback_id`, so submissions of other modals are not mistaken for codes.
pub const CALLBACK_ID: &str = "palisade.code";
/// The input's block id and action id.
pub const INPUT_ID: &str = "code";
/// Longest input accepted (recovery codes included).
const MAX_INPUT: u64 = 64;
/// How many open tickets are remembered; the oldest are forgotten first.
const CAPACITY: usize = 1024;

/// The verification modal asking `prompt`, answering for `ticket`.
pub fn view(prompt: &str, ticket: &str) -> SlackView {
    let text: SlackBlockPlainText = truncate(prompt, 3000).into();
    let input = SlackBlockPlainTextInputElement::new()
        .with_action_id(INPUT_ID.into())
        .with_max_length(MAX_INPUT)
        .with_focus_on_load(true);
    let blocks: Vec<SlackBlock> = vec![
        SlackSectionBlock::new().with_text(SlackBlockText::Plain(text)).into(),
        SlackInputBlock::new(SlackBlockPlainText::from("Code").into(), input.into())
            .with_block_id(INPUT_ID.into())
            .into(),
    ];
    SlackView::Modal(
        SlackModalView::new(SlackBlockPlainText::from("Verification").into(), blocks)
            .with_submit(SlackBlockPlainText::from("Verify").into())
            .with_close(SlackBlockPlainText::from("Cancel").into())
            .with_callback_id(CALLBACK_ID.into())
            .with_private_metadata(ticket.to_string())
            .with_notify_on_close(true),
    )
}

/// The text typed into a submitted verification modal.
pub fn submitted_code(view: &View) -> Option<String> {
    let value = view.state.values.get(INPUT_ID)?.get(INPUT_ID)?.value.as_deref()?;
    Some(value.trim().to_string())
}

/// Open verification modals: ticket → (user, chat).
#[derive(Debug, Default)]
pub struct Tickets {
    inner: Mutex<Open>,
}

/// The tickets by id, and their ids oldest first.
type Open = (HashMap<String, (UserRef, ChatRef)>, VecDeque<String>);

impl Tickets {
    /// A ticket for a modal shown to `user` about an action in `chat`.
    pub fn issue(&self, user: &UserRef, chat: &ChatRef) -> Result<String, CryptoError> {
        let id = crate::buttons::random_id()?;
        // A std Mutex: a few map operations, never held across an await.
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let (map, order) = &mut *inner;
        while order.len() >= CAPACITY {
            if let Some(old) = order.pop_front() {
                map.remove(&old);
            }
        }
        map.insert(id.clone(), (user.clone(), chat.clone()));
        order.push_back(id.clone());
        Ok(id)
    }

    /// The chat of ticket `id` when `user` is the one it was issued to; the ticket is used up.
    pub fn redeem(&self, id: &str, user: &UserRef) -> Option<ChatRef> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let (map, order) = &mut *inner;
        if map.get(id).is_none_or(|(u, _)| u != user) {
            return None;
        }
        order.retain(|t| t != id);
        map.remove(id).map(|(_, chat)| chat)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use palisade_core::{ChatKind, Platform};
    use serde_json::json;

    use super::*;

    #[test]
    fn the_modal_has_one_bounded_input_and_the_ticket() {
        let v = serde_json::to_value(view("To confirm bank.transfer, send the code.", "t1")).unwrap();
        assert_eq!(v["type"], "modal");
        assert_eq!(v["callback_id"], CALLBACK_ID);
        assert_eq!(v["private_metadata"], "t1");
        assert_eq!(v["notify_on_close"], true);
        assert_eq!(v["blocks"][1]["type"], "input");
        assert_eq!(v["blocks"][1]["element"]["type"], "plain_text_input");
        assert_eq!(v["blocks"][1]["element"]["max_length"], 64);
        assert!(v["title"]["text"].as_str().unwrap().len() <= 24, "Slack's title limit");
    }

    #[test]
    fn submitted_codes_are_read_from_the_state() {
        let view: View = serde_json::from_value(json!({ "id": "V1", "callback_id": CALLBACK_ID,
            "state": { "values": { "code": { "code": { "type": "plain_text_input", "value": " 123456 " } } } } }))
        .unwrap();
        assert_eq!(submitted_code(&view).as_deref(), Some("123456"));
    }

    #[test]
    fn tickets_are_for_their_user_and_used_once() {
        let tickets = Tickets::default();
        let (ann, ben) = (UserRef::new(Platform::SLACK, "T1/U1"), UserRef::new(Platform::SLACK, "T1/U2"));
        let chat = ChatRef::new(Platform::SLACK, "C1", ChatKind::Group);
        let t = tickets.issue(&ann, &chat).unwrap();
        assert_eq!(tickets.redeem(&t, &ben), None, "not for another user");
        assert_eq!(tickets.redeem(&t, &ann), Some(chat));
        assert_eq!(tickets.redeem(&t, &ann), None, "used up");
    }
}
