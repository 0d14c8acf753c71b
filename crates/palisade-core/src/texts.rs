//! The catalogue of built-in texts users read (help, step-up prompts, privacy answers, errors), each under a
//! key with an English default, and an operator's translations and rewordings of them.
//!
//! A text may name values in braces (`{scope}`, `{left}`), filled in when it is used; an override may use
//! the same names, in any order, and no others. A user's language comes from their platform where it says
//! (Telegram's `language_code`, Discord's `locale`); it is looked up as given (`pt-br`), then by its first
//! part (`pt`), then in the operator's default language, then the English default is used.
//!
//! ```
//! use std::collections::BTreeMap;
//! use palisade_core::texts::Texts;
//!
//! let german = BTreeMap::from([("router.unknown_command".to_string(), "Ich kenne /{command} nicht.".to_string())]);
//! let texts = Texts::new(None, BTreeMap::from([("de".to_string(), german)])).unwrap();
//! assert_eq!(texts.fill(Some("de-AT"), "router.unknown_command", &[("command", "pay")]), "Ich kenne /pay nicht.");
//! assert!(texts.fill(None, "router.unknown_command", &[("command", "pay")]).starts_with("I don't know /pay."));
//! ```

mod catalogue;

use std::collections::{BTreeMap, BTreeSet};

pub use catalogue::CATALOGUE;

use crate::config::Problem;

/// The built-in texts with an operator's overrides: language → key → text.
#[derive(Clone, Debug, Default)]
pub struct Texts {
    default_language: Option<String>,
    overrides: BTreeMap<String, BTreeMap<String, String>>,
}

/// A language tag as it is looked up: lowercase, `-` between its parts (`pt_BR` → `pt-br`).
pub fn normalise(language: &str) -> String {
    language.trim().replace('_', "-").to_ascii_lowercase()
}

/// The English default of `key`, if the catalogue has it.
pub fn english(key: &str) -> Option<&'static str> {
    CATALOGUE.iter().find(|(k, _)| *k == key).map(|(_, text)| *text)
}

/// The edit distance between `a` and `b` (for "did you mean").
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1).min(row[j] + 1).min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The `{names}` a text fills in.
fn placeholders(text: &str) -> BTreeSet<&str> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        let name = &after[..close];
        if !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            names.insert(name);
        }
        rest = &after[close + 1..];
    }
    names
}

impl Texts {
    /// The catalogue with `overrides` (language → key → text) and the language for users whose platform
    /// names none. Every problem is reported, each under its key (`texts.de.stepup.wrong_code`): a key the
    /// catalogue does not have, a value it does not fill in, an empty text, a malformed language tag.
    pub fn new(
        default_language: Option<&str>,
        overrides: BTreeMap<String, BTreeMap<String, String>>,
    ) -> Result<Self, Vec<Problem>> {
        let mut problems = Vec::new();
        let tag_ok = |tag: &str| {
            !tag.is_empty()
                && tag.len() <= 35
                && tag.split('-').all(|p| !p.is_empty() && p.len() <= 8 && p.chars().all(|c| c.is_ascii_alphanumeric()))
        };
        if let Some(tag) = default_language
            && !tag_ok(&normalise(tag))
        {
            problems.push(Problem::at(
                "texts.default_language",
                format!("`{tag}` is not a language tag like `de` or `pt-BR`"),
            ));
        }
        let mut normalised = BTreeMap::new();
        for (language, texts) in overrides {
            let tag = normalise(&language);
            if !tag_ok(&tag) {
                problems.push(Problem::at(
                    format!("texts.{language}"),
                    format!("`{language}` is not a language tag like `de` or `pt-BR`"),
                ));
                continue;
            }
            for (key, text) in &texts {
                let at = format!("texts.{language}.{key}");
                let Some(default) = english(key) else {
                    let near = CATALOGUE
                        .iter()
                        .map(|(k, _)| *k)
                        .min_by_key(|k| distance(k, key))
                        .filter(|k| distance(k, key) <= 3);
                    let hint = near.map(|k| format!(" (did you mean `{k}`?)")).unwrap_or_default();
                    problems.push(Problem::at(
                        at,
                        format!("no built-in text is called `{key}`{hint}; `palisade config texts` lists them"),
                    ));
                    continue;
                };
                if text.trim().is_empty() {
                    problems.push(Problem::at(at, "is empty; leave the key out to keep the default"));
                    continue;
                }
                let known = placeholders(default);
                let unknown: Vec<&str> = placeholders(text).into_iter().filter(|n| !known.contains(n)).collect();
                if !unknown.is_empty() {
                    let known: Vec<String> = known.iter().map(|n| format!("{{{n}}}")).collect();
                    let offered = if known.is_empty() { "none".to_string() } else { known.join(", ") };
                    let unknown: Vec<String> = unknown.iter().map(|n| format!("{{{n}}}")).collect();
                    problems.push(Problem::at(
                        at,
                        format!("uses {} which this text does not fill in (it offers {offered})", unknown.join(", ")),
                    ));
                }
            }
            normalised.entry(tag).or_insert_with(BTreeMap::new).extend(texts);
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Self { default_language: default_language.map(normalise), overrides: normalised })
    }

    /// The override of `key` in `language` (as given, then its first part), if there is one.
    fn overridden(&self, language: &str, key: &str) -> Option<&str> {
        let tag = normalise(language);
        let primary = tag.split('-').next().unwrap_or_default().to_string();
        [tag, primary].iter().find_map(|t| self.overrides.get(t).and_then(|texts| texts.get(key)).map(String::as_str))
    }

    /// The text of `key` for a user whose platform names `language` (`None`: it names none).
    pub fn get(&self, language: Option<&str>, key: &str) -> &str {
        language
            .and_then(|l| self.overridden(l, key))
            .or_else(|| self.default_language.as_deref().and_then(|l| self.overridden(l, key)))
            .or_else(|| english(key))
            .unwrap_or_else(|| {
                debug_assert!(false, "the text `{key}` is not in the catalogue");
                "(missing text)"
            })
    }

    /// [`Texts::get`] with each `{name}` replaced by its value in `values`.
    pub fn fill(&self, language: Option<&str>, key: &str, values: &[(&str, &str)]) -> String {
        let mut text = self.get(language, key).to_string();
        for (name, value) in values {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        text
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn one(language: &str, key: &str, text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
        BTreeMap::from([(language.to_string(), BTreeMap::from([(key.to_string(), text.to_string())]))])
    }

    #[test]
    fn every_key_is_unique_and_every_text_is_filled_with_known_names() {
        let mut keys = BTreeSet::new();
        for (key, text) in CATALOGUE {
            assert!(keys.insert(*key), "`{key}` twice");
            assert!(key.contains('.') && key.chars().all(|c| c.is_ascii_lowercase() || c == '.' || c == '_'), "{key}");
            assert!(!text.trim().is_empty(), "{key}");
        }
    }

    #[test]
    fn argument_kinds_read_as_the_catalogue_says() {
        use crate::plugin::ArgKind;
        for kind in [ArgKind::Text, ArgKind::Integer, ArgKind::Number, ArgKind::Boolean, ArgKind::User] {
            assert_eq!(english(kind.text_key()), Some(kind.describe()), "{kind:?}");
        }
    }

    #[test]
    fn overrides_are_looked_up_by_tag_then_first_part_then_the_default_language() {
        let texts = Texts::new(Some("de"), one("de", "apology.internal", "Entschuldigung.")).unwrap();
        assert_eq!(texts.get(Some("de-CH"), "apology.internal"), "Entschuldigung.");
        assert_eq!(texts.get(Some("fr"), "apology.internal"), "Entschuldigung.", "the default language");
        assert_eq!(texts.get(None, "apology.internal"), "Entschuldigung.");
        let english = Texts::default();
        assert_eq!(english.get(Some("de"), "apology.internal"), super::english("apology.internal").unwrap());
        let regional = Texts::new(None, one("pt_BR", "apology.internal", "Desculpe.")).unwrap();
        assert_eq!(regional.get(Some("pt-BR"), "apology.internal"), "Desculpe.");
        assert_ne!(regional.get(Some("pt-PT"), "apology.internal"), "Desculpe.", "pt-PT is not pt-BR");
    }

    #[test]
    fn mistakes_name_the_key_and_what_is_wrong() {
        let problems = Texts::new(None, one("de", "router.unknown_comand", "x")).unwrap_err();
        assert_eq!(problems[0].key.as_deref(), Some("texts.de.router.unknown_comand"));
        assert!(problems[0].message.contains("did you mean `router.unknown_command`"), "{problems:?}");
        let problems = Texts::new(None, one("de", "help.intor", "x")).unwrap_err();
        assert!(problems[0].message.contains("did you mean `help.intro`"), "{problems:?}");
        let problems = Texts::new(None, one("de", "something.else.entirely", "x")).unwrap_err();
        assert!(!problems[0].message.contains("did you mean"), "{problems:?}");
        let problems = Texts::new(None, one("de", "router.unknown_command", "Ich kenne /{befehl} nicht.")).unwrap_err();
        assert!(
            problems[0].message.contains("uses {befehl}") && problems[0].message.contains("{command}"),
            "{problems:?}"
        );
        let problems = Texts::new(None, one("d e", "router.unknown_command", "x")).unwrap_err();
        assert_eq!(problems[0].key.as_deref(), Some("texts.d e"));
        let problems = Texts::new(None, one("de", "router.unknown_command", " ")).unwrap_err();
        assert!(problems[0].message.contains("empty"));
    }
}
