//! Command arguments as typed after the command name.

/// The arguments of a command: the raw text, and its whitespace-separated words.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Args {
    raw: String,
}

impl Args {
    /// Arguments from the raw text after the command name.
    pub fn new(raw: impl Into<String>) -> Self {
        Self { raw: raw.into() }
    }

    /// Everything after the command name, trimmed.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.raw.split_whitespace().count()
    }

    /// True when no arguments were given.
    pub fn is_empty(&self) -> bool {
        self.raw.trim().is_empty()
    }

    /// Word `i` (0-based).
    pub fn get(&self, i: usize) -> Option<&str> {
        self.raw.split_whitespace().nth(i)
    }

    /// The text from word `i` to the end, with its inner spacing kept (`None` if there is no word `i`).
    pub fn rest_from(&self, i: usize) -> Option<&str> {
        let mut words = 0;
        let mut after_space = true;
        for (pos, ch) in self.raw.char_indices() {
            let space = ch.is_whitespace();
            if !space && after_space {
                if words == i {
                    return Some(self.raw[pos..].trim_end());
                }
                words += 1;
            }
            after_space = space;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::Args;

    #[test]
    fn words_and_rest_keep_inner_spacing() {
        let a = Args::new("delete  3   please  now");
        assert_eq!(a.len(), 4);
        assert_eq!(a.get(1), Some("3"));
        assert_eq!(a.rest_from(2), Some("please  now"));
        assert_eq!(a.rest_from(0), Some("delete  3   please  now"));
        assert_eq!(a.rest_from(4), None);
        assert!(Args::new("  ").is_empty());
    }
}
