//! What a command prints and returns, gathered first and shown after: the same [`Answer`] whether the
//! command ran here on the store or inside the running bot (through its control socket), so both give the
//! same output and exit codes. A document (an export, a backup) is written where its user asked — by this
//! process, with owner-only permissions — before the lines that report it.

use std::fmt::Display;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use palisade::control::Answer;

/// Gathers a command's output.
#[derive(Debug, Default)]
pub struct Report(Answer);

impl Report {
    /// A line on standard output.
    pub fn say(&mut self, line: impl Display) {
        self.0.stdout.push_str(&format!("{line}\n"));
    }

    /// A line on standard error.
    pub fn warn(&mut self, line: impl Display) {
        self.0.stderr.push_str(&format!("{line}\n"));
    }

    /// The document the command produced.
    pub fn document(&mut self, bytes: Vec<u8>) {
        self.0.document = Some(bytes);
    }

    /// Ends with exit code `code`.
    pub fn code(mut self, code: u8) -> Answer {
        self.0.code = code;
        self.0
    }
}

/// `error: …` with exit code `code`.
pub fn error(code: u8, e: impl Display) -> Answer {
    Answer::fail(code, e)
}

/// Shows `answer`: its document goes to `out` (mode 0600, replaced atomically) or, without `out`, to
/// standard output; then its lines. Returns its exit code.
pub fn emit(answer: Answer, out: Option<&Path>) -> ExitCode {
    if let Some(document) = &answer.document {
        match out {
            Some(path) => {
                if let Err(e) = palisade::private_file::replace_private(path, document) {
                    eprintln!("error: cannot write {}: {e}", path.display());
                    return ExitCode::FAILURE;
                }
            }
            None => {
                let mut stdout = std::io::stdout().lock();
                if stdout.write_all(document).and_then(|()| stdout.flush()).is_err() {
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    print!("{}", answer.stdout);
    eprint!("{}", answer.stderr);
    ExitCode::from(answer.code)
}
