//! Command metadata: the name, help text, arguments, sensitivity and role the router and `/help` use.

/// One argument in a command's signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arg {
    /// Name shown in usage (`<text>`).
    pub name: &'static str,
    /// Must be given.
    pub required: bool,
    /// Takes the rest of the line (only meaningful for the last argument).
    pub rest: bool,
}

impl Arg {
    /// A required single word.
    pub fn required(name: &'static str) -> Self {
        Self { name, required: true, rest: false }
    }

    /// An optional single word.
    pub fn optional(name: &'static str) -> Self {
        Self { name, required: false, rest: false }
    }

    /// Required free text to the end of the line.
    pub fn text(name: &'static str) -> Self {
        Self { name, required: true, rest: true }
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

#[cfg(test)]
mod tests {
    use super::*;

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
