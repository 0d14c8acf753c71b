//! Free text: every plugin's matchers ([`crate::plugin::Matcher`]) compiled once when the router is built
//! (an invalid pattern, a name used twice or two fallbacks stop the bot from starting, naming the plugin), and
//! the search for the one that takes a message.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::plugin::{InGroups, Matched, Matcher, Plugin, Rule, words_of};

/// What the bot says to text in a direct chat that no plugin takes.
pub const ONLY_COMMANDS: &str = "I only understand commands. Send /help to see what I can do.";

enum Compiled {
    /// Normalised phrases, each padded with spaces (see [`words_of`]).
    Words(Vec<String>),
    Pattern(regex::Regex),
    Any,
}

struct Entry {
    plugin: usize,
    matcher: Matcher,
    compiled: Compiled,
}

/// The matchers of every plugin, in the order they are tried.
#[derive(Default)]
pub(super) struct TextTable {
    entries: Vec<Entry>,
    fallback: Option<Entry>,
}

/// Where a message was said, as far as matchers care.
pub(super) struct Said<'a> {
    pub text: &'a str,
    pub private: bool,
    pub addressed: bool,
    pub roles: &'a BTreeSet<String>,
}

impl TextTable {
    /// Compiles the matchers of `plugins`.
    pub(super) fn new(plugins: &[Arc<dyn Plugin>]) -> Result<Self, String> {
        let mut table = Self::default();
        for (i, p) in plugins.iter().enumerate() {
            let mut names = BTreeSet::new();
            for matcher in p.matchers() {
                if !names.insert(matcher.name) {
                    return Err(format!("plugin `{}` declares the matcher `{}` twice", p.name(), matcher.name));
                }
                let compiled = match &matcher.rule {
                    Rule::Keywords(words) => Compiled::Words(words.iter().map(|w| words_of(w)).collect()),
                    Rule::Pattern(pattern) => Compiled::Pattern(regex::Regex::new(pattern).map_err(|e| {
                        format!(
                            "plugin `{}`: the pattern of matcher `{}` is not a valid regex: {e}",
                            p.name(),
                            matcher.name
                        )
                    })?),
                    Rule::Fallback => Compiled::Any,
                    _ => {
                        return Err(format!(
                            "plugin `{}`: matcher `{}` has a rule this runtime does not know",
                            p.name(),
                            matcher.name
                        ));
                    }
                };
                let entry = Entry { plugin: i, matcher, compiled };
                if matches!(entry.compiled, Compiled::Any) {
                    if let Some(other) = &table.fallback {
                        return Err(format!(
                            "plugins `{}` and `{}` both declare a fallback for free text; a bot has at most one",
                            plugins[other.plugin].name(),
                            p.name()
                        ));
                    }
                    table.fallback = Some(entry);
                } else {
                    table.entries.push(entry);
                }
            }
        }
        Ok(table)
    }

    /// The plugin and matcher that take `said`, with what matched.
    pub(super) fn find(&self, said: &Said<'_>) -> Option<(usize, &Matcher, Matched)> {
        let listens = |m: &Matcher| {
            let here = said.private
                || match m.groups {
                    InGroups::WhenAddressed => said.addressed,
                    InGroups::Always => true,
                    InGroups::Never => false,
                };
            here && m.role.is_none_or(|r| said.roles.contains(r))
        };
        let mut words = None;
        for e in self.entries.iter().filter(|e| listens(&e.matcher)) {
            let captures = match &e.compiled {
                Compiled::Words(phrases) => {
                    let text = words.get_or_insert_with(|| words_of(said.text));
                    phrases.iter().any(|p| !p.trim().is_empty() && text.contains(p.as_str())).then(Vec::new)
                }
                Compiled::Pattern(re) => re
                    .captures(said.text)
                    .map(|c| c.iter().map(|g| g.map_or_else(String::new, |g| g.as_str().to_string())).collect()),
                Compiled::Any => None,
            };
            if let Some(captures) = captures {
                return Some((e.plugin, &e.matcher, Matched { name: e.matcher.name, captures }));
            }
        }
        let f = self.fallback.as_ref().filter(|f| listens(&f.matcher))?;
        Some((f.plugin, &f.matcher, Matched { name: f.matcher.name, captures: Vec::new() }))
    }
}
