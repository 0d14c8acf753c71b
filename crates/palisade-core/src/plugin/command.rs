//! Command metadata: the name, help text, arguments, sensitivity and role the router and `/help` use.

/// What an argument holds. The router checks it before the handler runs (a wrong value gets the usage
/// line, naming the argument), and platforms with typed options (Discord) offer it as that type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArgKind {
    /// Any word (or free text).
    #[default]
    Text,
    /// A whole number.
    Integer,
    /// A number, possibly with a fraction.
    Number,
    /// yes/no, true/false, on/off.
    Boolean,
    /// A user, as `platform:id` (Discord's user option gives the picked user).
    User,
}

impl ArgKind {
    /// What a value of this kind must look like, for usage errors.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Integer => "a whole number",
            Self::Number => "a number",
            Self::Boolean => "yes or no",
            Self::User => "a user like telegram:123456",
        }
    }
}

/// A type a typed argument parses into ([`crate::Ctx::arg`]); implemented for text, numbers, booleans and
/// users. Implement it for a type of your own (with the kind its words have) to parse it the same way.
pub trait ArgValue: Sized {
    /// The kind of word it is written as.
    const KIND: ArgKind;
    /// Parses one word (or, for the last free-text argument, the rest of the line).
    fn parse_arg(word: &str) -> Option<Self>;

    /// What a value must look like, for the usage error (`a delay like 10m`); the kind's by default.
    fn expected() -> &'static str {
        Self::KIND.describe()
    }
}

impl ArgValue for String {
    const KIND: ArgKind = ArgKind::Text;
    fn parse_arg(word: &str) -> Option<Self> {
        Some(word.to_string())
    }
}

macro_rules! integer_args {
    ($($t:ty),*) => {$(
        impl ArgValue for $t {
            const KIND: ArgKind = ArgKind::Integer;
            fn parse_arg(word: &str) -> Option<Self> {
                word.parse().ok()
            }
        }
    )*};
}
integer_args!(i32, i64, u32, u64, usize);

impl ArgValue for f64 {
    const KIND: ArgKind = ArgKind::Number;
    fn parse_arg(word: &str) -> Option<Self> {
        word.parse().ok().filter(|n: &f64| n.is_finite())
    }
}

impl ArgValue for bool {
    const KIND: ArgKind = ArgKind::Boolean;
    fn parse_arg(word: &str) -> Option<Self> {
        match word.to_ascii_lowercase().as_str() {
            "yes" | "y" | "true" | "on" | "1" => Some(true),
            "no" | "n" | "false" | "off" | "0" => Some(false),
            _ => None,
        }
    }
}

impl ArgValue for crate::event::UserRef {
    const KIND: ArgKind = ArgKind::User;
    fn parse_arg(word: &str) -> Option<Self> {
        word.parse().ok()
    }
}

/// Whether `word` is a valid value of `kind`.
pub fn fits(kind: ArgKind, word: &str) -> bool {
    match kind {
        ArgKind::Text => true,
        ArgKind::Integer => i64::parse_arg(word).is_some() || u64::parse_arg(word).is_some(),
        ArgKind::Number => f64::parse_arg(word).is_some(),
        ArgKind::Boolean => bool::parse_arg(word).is_some(),
        ArgKind::User => crate::event::UserRef::parse_arg(word).is_some(),
    }
}

/// One argument in a command's signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arg {
    /// Name shown in usage (`<text>`).
    pub name: &'static str,
    /// Must be given.
    pub required: bool,
    /// Takes the rest of the line (only meaningful for the last argument).
    pub rest: bool,
    /// What it holds.
    pub kind: ArgKind,
}

impl Arg {
    /// A required single word.
    pub fn required(name: &'static str) -> Self {
        Self { name, required: true, rest: false, kind: ArgKind::Text }
    }

    /// An optional single word.
    pub fn optional(name: &'static str) -> Self {
        Self { name, required: false, rest: false, kind: ArgKind::Text }
    }

    /// Required free text to the end of the line.
    pub fn text(name: &'static str) -> Self {
        Self { name, required: true, rest: true, kind: ArgKind::Text }
    }

    /// A required word of type `T` (`Arg::typed::<u32>("amount")`): checked before the handler runs, read
    /// with [`crate::Ctx::arg`].
    pub fn typed<T: ArgValue>(name: &'static str) -> Self {
        Self { name, required: true, rest: false, kind: T::KIND }
    }

    /// An optional word of type `T`.
    pub fn typed_optional<T: ArgValue>(name: &'static str) -> Self {
        Self { name, required: false, rest: false, kind: T::KIND }
    }
}

/// A command a plugin answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    /// Name without the slash, lowercase.
    pub name: &'static str,
    /// One-line help shown by `/help`.
    pub help: &'static str,
    /// Arguments in order.
    pub args: Vec<Arg>,
    /// Runs only after step-up verification.
    pub sensitive: bool,
    /// Role required to run it (`None`: everyone).
    pub role: Option<&'static str>,
}

impl Command {
    /// A command everyone may run, with no arguments.
    pub fn new(name: &'static str, help: &'static str) -> Self {
        Self { name, help, args: Vec::new(), sensitive: false, role: None }
    }

    /// Adds an argument.
    #[must_use]
    pub fn arg(mut self, arg: Arg) -> Self {
        self.args.push(arg);
        self
    }

    /// Marks the command sensitive: it runs only after step-up verification.
    #[must_use]
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }

    /// Restricts the command to users holding `role`.
    #[must_use]
    pub fn role(mut self, role: &'static str) -> Self {
        self.role = Some(role);
        self
    }

    /// The usage line: `/note <text…>` or `/notes [page]`.
    pub fn usage(&self) -> String {
        let mut s = format!("/{}", self.name);
        for a in &self.args {
            let dots = if a.rest { "…" } else { "" };
            if a.required {
                s.push_str(&format!(" <{}{dots}>", a.name));
            } else {
                s.push_str(&format!(" [{}{dots}]", a.name));
            }
        }
        s
    }

    /// Checks the words given against the signature: their number and each typed argument's value. `Err`
    /// carries what is wrong and the usage line, in English (the router words it from the catalogue of texts:
    /// [`Command::arg_problem`]).
    pub fn check_args(&self, args: &crate::plugin::Args) -> Result<(), String> {
        match self.arg_problem(args) {
            None => Ok(()),
            Some(ArgProblem::Count) => Err(format!("Usage: {} — {}", self.usage(), self.help)),
            Some(ArgProblem::Value { name, kind }) => {
                Err(format!("`{name}` must be {}. Usage: {} — {}", kind.describe(), self.usage(), self.help))
            }
        }
    }

    /// What is wrong with the words given, if anything: their number, or the first typed argument whose
    /// word does not fit its kind.
    pub fn arg_problem(&self, args: &crate::plugin::Args) -> Option<ArgProblem> {
        if self.check_arity(args.len()).is_err() {
            return Some(ArgProblem::Count);
        }
        self.args.iter().enumerate().find_map(|(i, arg)| {
            let word = if arg.rest { args.rest_from(i) } else { args.get(i) }?;
            (!fits(arg.kind, word)).then_some(ArgProblem::Value { name: arg.name, kind: arg.kind })
        })
    }

    /// Checks a word count against the signature; `Err` carries the usage line.
    pub fn check_arity(&self, words: usize) -> Result<(), String> {
        let required = self.args.iter().filter(|a| a.required).count();
        let unbounded = self.args.last().is_some_and(|a| a.rest);
        if words < required || (!unbounded && words > self.args.len()) {
            return Err(format!("Usage: {} — {}", self.usage(), self.help));
        }
        Ok(())
    }
}

/// What is wrong with a command's words ([`Command::arg_problem`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgProblem {
    /// Too few or too many words.
    Count,
    /// Argument `name`'s word is not a `kind`.
    Value {
        /// The argument.
        name: &'static str,
        /// What it must be.
        kind: ArgKind,
    },
}

impl ArgKind {
    /// The key of [`ArgKind::describe`]'s text in the catalogue of texts.
    pub fn text_key(self) -> &'static str {
        match self {
            Self::Text => "args.kind.text",
            Self::Integer => "args.kind.integer",
            Self::Number => "args.kind.number",
            Self::Boolean => "args.kind.boolean",
            Self::User => "args.kind.user",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_arguments_are_checked_against_the_declaration() {
        let c = Command::new("pay", "Pay someone")
            .arg(Arg::typed::<crate::event::UserRef>("to"))
            .arg(Arg::typed::<u32>("cents"))
            .arg(Arg::typed_optional::<bool>("urgent"));
        let check = |raw: &str| c.check_args(&crate::plugin::Args::new(raw));
        assert!(check("telegram:123 250").is_ok());
        assert!(check("telegram:123 250 yes").is_ok());
        let err = check("telegram:123 lots").unwrap_err();
        assert_eq!(err, "`cents` must be a whole number. Usage: /pay <to> <cents> [urgent] — Pay someone");
        assert!(check("bob 250").unwrap_err().starts_with("`to` must be a user like telegram:123456."));
        assert!(check("telegram:123 250 maybe").unwrap_err().starts_with("`urgent` must be yes or no."));
        assert!(check("telegram:123").unwrap_err().starts_with("Usage: /pay"), "arity first");
        assert_eq!(f64::parse_arg("NaN"), None);
    }

    #[test]
    fn usage_and_arity() {
        let c = Command::new("note", "Save a note").arg(Arg::text("text"));
        assert_eq!(c.usage(), "/note <text…>");
        assert!(c.check_arity(0).unwrap_err().starts_with("Usage: /note <text…>"));
        assert!(c.check_arity(5).is_ok());
        let d = Command::new("show", "Show").arg(Arg::required("id")).arg(Arg::optional("format"));
        assert_eq!(d.usage(), "/show <id> [format]");
        assert!(d.check_arity(1).is_ok() && d.check_arity(2).is_ok());
        assert!(d.check_arity(3).is_err());
    }
}
