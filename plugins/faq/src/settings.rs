//! `[plugins.faq]`: the answers and the fallback.

use serde::Deserialize;

/// One answer and the words that ask for it.
#[derive(Clone, Debug, Deserialize)]
pub struct Answer {
    /// Words or phrases (whole words, any case) that ask for this answer.
    pub keywords: Vec<String>,
    /// What the bot says.
    pub answer: String,
}

/// `[plugins.faq]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct FaqSettings {
    /// The answers, tried in order: the first whose keyword the text holds is given.
    pub answers: Vec<Answer>,
    /// What the bot says to text nothing else answers.
    pub fallback: String,
}

impl Default for FaqSettings {
    /// The demo's answers.
    fn default() -> Self {
        let answer = |keywords: &[&str], answer: &str| Answer {
            keywords: keywords.iter().map(|k| (*k).to_string()).collect(),
            answer: answer.to_string(),
        };
        Self {
            answers: vec![
                answer(
                    &["hello", "hi", "hey", "good morning", "good evening"],
                    "Hello! I am a demo bot. Send /help to see what I can do, or ask me about our opening hours.",
                ),
                answer(
                    &["opening hours", "open", "hours", "closed"],
                    "We are open Monday to Friday, 9:00 to 17:00. I answer here around the clock.",
                ),
                answer(&["thanks", "thank you", "cheers"], "You are welcome!"),
                answer(
                    &["privacy", "my data", "delete my data"],
                    "Send /privacy to see what is kept about you, /mydata for a copy and /forget to erase it.",
                ),
            ],
            fallback: "I did not understand that. Send /help to see what I can do.".to_string(),
        }
    }
}
