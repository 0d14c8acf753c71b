//! The FAQ plugin: answers plain questions ("hello", "what are your opening hours?") by keywords, and points
//! anything else to /help. Its answers come from `[plugins.faq]`; [`FaqSettings::default`] is the demo's.
//! The plugin itself is the smallest example of free text: two matchers and one handler.

mod settings;

use palisade_core::plugin::words_of;
use palisade_core::prelude::*;

pub use settings::{Answer, FaqSettings};

/// Answers questions by keywords.
#[derive(Debug, Default)]
pub struct Faq(pub FaqSettings);

#[async_trait]
impl Plugin for Faq {
    fn name(&self) -> &'static str {
        "faq"
    }

    fn commands(&self) -> Vec<Command> {
        Vec::new()
    }

    fn matchers(&self) -> Vec<Matcher> {
        let words: Vec<&str> = self.0.answers.iter().flat_map(|a| a.keywords.iter().map(String::as_str)).collect();
        vec![Matcher::keywords("question", &words), Matcher::fallback("anything else")]
    }

    async fn command(&self, _: &str, _: &mut Ctx) -> Result<(), PluginError> {
        Ok(())
    }

    async fn text(&self, matcher: &str, ctx: &mut Ctx) -> Result<(), PluginError> {
        let said = words_of(ctx.input().text().unwrap_or_default());
        let hit = self.0.answers.iter().find(|a| a.keywords.iter().any(|k| said.contains(&words_of(k))));
        let answer = hit.filter(|_| matcher == "question").map_or(&self.0.fallback, |a| &a.answer);
        ctx.reply(answer.clone());
        Ok(())
    }
}
