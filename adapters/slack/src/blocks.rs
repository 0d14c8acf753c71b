//! Block Kit for outgoing messages: the text as a plain-text section (so nothing a plugin writes is read as
//! markup or as a `<!channel>` ping), and buttons as an actions block whose values are opaque ids.
//!
//! A section's text is limited to 3000 characters, which is why [`crate::CAPABILITIES`] caps messages there
//! (the `text` field itself would take 40 000, but buttons need blocks).

use slack_morphism::SlackMessageContent;
use slack_morphism::blocks::{
    SlackActionBlockElement, SlackActionsBlock, SlackBlock, SlackBlockButtonElement, SlackBlockPlainText,
    SlackBlockText, SlackSectionBlock,
};

/// Longest text of one section block.
pub const SECTION_MAX: usize = 3000;
/// Longest button label.
const LABEL_MAX: usize = 75;
/// Most elements in one actions block.
const ACTIONS_MAX: usize = 25;
/// Prefix of the action ids of the bot's buttons.
pub const BUTTON_ACTION_PREFIX: &str = "palisade.button.";

/// `text` cut to at most `max` characters (on a character boundary).
pub fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => text[..i].to_string(),
        None => text.to_string(),
    }
}

/// Escapes the three characters Slack treats as markup in a message's `text` field.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Undoes [`escape`] on text Slack sent (it escapes user input the same way).
pub fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

/// A message: `text` in a section, then one button per `(label, opaque id)`.
pub fn message(text: &str, buttons: &[(String, String)]) -> SlackMessageContent {
    let text = truncate(text, SECTION_MAX);
    let mut blocks: Vec<SlackBlock> = Vec::new();
    if !text.trim().is_empty() {
        let plain: SlackBlockPlainText = text.as_str().into();
        blocks.push(SlackSectionBlock::new().with_text(SlackBlockText::Plain(plain)).into());
    }
    if !buttons.is_empty() {
        let elements = buttons.iter().take(ACTIONS_MAX).enumerate().map(|(i, (label, id))| button(i, label, id));
        blocks.push(SlackActionsBlock::new(elements.collect()).into());
    }
    // `text` is what notifications and screen readers show; never empty, never markup.
    let fallback = if text.trim().is_empty() { "…".to_string() } else { escape(&text) };
    SlackMessageContent::new().with_text(fallback).with_blocks(blocks)
}

fn button(index: usize, label: &str, id: &str) -> SlackActionBlockElement {
    let label: SlackBlockPlainText = truncate(label, LABEL_MAX).into();
    SlackBlockButtonElement::new(label.into())
        .with_action_id(format!("{BUTTON_ACTION_PREFIX}{index}").into())
        .with_value(id.to_string())
        .into()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn text_is_plain_and_buttons_carry_only_ids() {
        let content = message("Send 5 <!channel> & more?", &[("Confirm".into(), "abc".into())]);
        let v = serde_json::to_value(&content).unwrap();
        assert_eq!(v["text"], "Send 5 &lt;!channel&gt; &amp; more?");
        assert_eq!(v["blocks"][0]["text"]["type"], "plain_text");
        assert_eq!(v["blocks"][0]["text"]["text"], "Send 5 <!channel> & more?");
        assert_eq!(v["blocks"][1]["type"], "actions");
        assert_eq!(v["blocks"][1]["elements"][0]["value"], "abc");
        assert_eq!(v["blocks"][1]["elements"][0]["action_id"], "palisade.button.0");
        assert_eq!(unescape("&lt;@U1&gt; a &amp;amp; b"), "<@U1> a &amp; b");
    }

    #[test]
    fn limits_are_kept() {
        assert_eq!(truncate("ééé", 2), "éé");
        let v = serde_json::to_value(message(&"x".repeat(5000), &[])).unwrap();
        assert_eq!(v["blocks"][0]["text"]["text"].as_str().unwrap().len(), SECTION_MAX);
        let v = serde_json::to_value(message("", &[("b".into(), "1".into())])).unwrap();
        assert_eq!(v["blocks"][0]["type"], "actions");
        assert_eq!(v["text"], "…");
    }
}
