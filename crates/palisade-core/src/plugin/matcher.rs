//! Free text a plugin answers: keywords, a regular expression, or — for one plugin of a bot — whatever
//! nothing else took. The router tries them after commands and active flows, plugin by plugin in the order
//! the bot lists them, each plugin's matchers in the order it declares them: keywords and patterns first
//! (the first that matches wins), then the fallback.

/// How a [`Matcher`] recognises text.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rule {
    /// Any of these words or phrases, as whole words, in any case (`"opening hours"` matches "What are your
    /// OPENING hours?").
    Keywords(Vec<String>),
    /// A regular expression (Rust `regex` syntax), matched anywhere in the text; its capture groups reach the
    /// handler ([`Matched::captures`]). An invalid pattern stops the bot from starting, naming it.
    Pattern(String),
    /// Any text no other matcher took. At most one plugin of a bot may declare one.
    Fallback,
}

/// Where a [`Matcher`] listens in group chats (in direct chats it always does).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InGroups {
    /// Only text that mentions the bot or replies to it (the default: a bot does not butt in).
    #[default]
    WhenAddressed,
    /// All text in the group.
    Always,
    /// Never in groups.
    Never,
}

/// Free text a plugin answers, declared like a command: a name (its step-up scope is `plugin.name`), how it
/// matches, and the same role and sensitivity settings as commands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matcher {
    /// The name the handler is called with, and the step-up scope's action.
    pub name: &'static str,
    /// How it matches.
    pub rule: Rule,
    /// Only users holding this role are matched (others fall through to the next matcher).
    pub role: Option<&'static str>,
    /// The matched text needs step-up verification first.
    pub sensitive: bool,
    /// Where it listens in groups.
    pub groups: InGroups,
}

impl Matcher {
    fn new(name: &'static str, rule: Rule) -> Self {
        Self { name, rule, role: None, sensitive: false, groups: InGroups::default() }
    }

    /// Matches text holding any of `words` (words or phrases, whole words, any case).
    pub fn keywords(name: &'static str, words: &[&str]) -> Self {
        Self::new(name, Rule::Keywords(words.iter().map(|w| (*w).to_string()).collect()))
    }

    /// Matches text the regular expression `pattern` finds.
    pub fn pattern(name: &'static str, pattern: &str) -> Self {
        Self::new(name, Rule::Pattern(pattern.to_string()))
    }

    /// Matches any text nothing else took.
    pub fn fallback(name: &'static str) -> Self {
        Self::new(name, Rule::Fallback)
    }

    /// Only for holders of `role`.
    #[must_use]
    pub fn role(mut self, role: &'static str) -> Self {
        self.role = Some(role);
        self
    }

    /// Needs step-up verification before the handler runs.
    #[must_use]
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }

    /// Where it listens in group chats.
    #[must_use]
    pub fn in_groups(mut self, groups: InGroups) -> Self {
        self.groups = groups;
        self
    }
}

/// What matched, as the handler sees it ([`crate::Ctx::matched`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Matched {
    /// The matcher's name.
    pub name: &'static str,
    /// A pattern's capture groups (index 0 is the whole match; a group that did not take part is empty).
    pub captures: Vec<String>,
}

/// `text` lower-cased with everything but letters and digits turned into single spaces, padded with one space
/// at each end: whole-word containment is then a substring test.
pub fn words_of(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push(' ');
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with(' ') {
            out.push(' ');
        }
    }
    if !out.ends_with(' ') {
        out.push(' ');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_match_whole_words_in_any_case() {
        let text = words_of("What are your OPENING-hours, please?");
        assert_eq!(text, " what are your opening hours please ");
        assert!(text.contains(&words_of("opening hours")));
        assert!(!words_of("hourly rates").contains(&words_of("hour")));
    }
}
