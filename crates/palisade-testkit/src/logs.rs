//! Captures every log line of the test binary (every thread and task, at every level) so a test can assert
//! what reached the log: above all, that no secret ever did.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

type Buffer = Arc<Mutex<Vec<u8>>>;

fn buffer() -> &'static Buffer {
    static LOGS: OnceLock<Buffer> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer: Buffer = Arc::default();
        let sink = buffer.clone();
        // A second subscriber (another test framework's) keeps ours from installing; the text is then empty
        // and `assert_never_logged` says so instead of passing vacuously.
        // No `log` bridge: sled logs while threads exit, after the subscriber's thread-locals are gone.
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            // No timestamps: their microseconds would be six random digits on every line, and a test looking for
            // a leaked one-time code would find one by chance.
            .without_time()
            .with_writer(move || Capture(sink.clone()))
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        buffer
    })
}

struct Capture(Buffer);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Starts capturing (idempotent); call before the code under test logs.
pub fn capture() {
    buffer();
}

/// Everything logged so far.
pub fn text() -> String {
    String::from_utf8_lossy(&buffer().lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
}

/// Asserts that logging happened and that none of `secrets` (nor their URL-encoded forms) appears in it.
///
/// # Panics
/// When the log is empty or a secret appears, naming which (by position, never by value).
pub fn assert_never_logged(secrets: &[&str]) {
    let text = text();
    assert!(!text.is_empty(), "the capture saw no logs at all (was `logs::capture()` called first?)");
    for (i, secret) in secrets.iter().enumerate() {
        let encoded = secret.replace(':', "%3A");
        assert!(!text.contains(secret) && !text.contains(&encoded), "secret #{i} appeared in the logs");
    }
}

/// The log lines that mention `needle` as a token of its own (not inside a longer word or number, and not as
/// the value of a numeric field like `elapsed_us=123456`): where a leaked code or id would show.
pub fn mentions(needle: &str) -> Vec<String> {
    lines_holding(&text(), needle, |c| c == '=')
}

/// The log lines that hold `needle` as a word of its own, also as a field's value (`user=ann`), but not
/// inside a longer word (`cannot` does not hold `ann`): where a leaked name would show.
pub fn mentions_word(needle: &str) -> Vec<String> {
    lines_holding(&text(), needle, |_| false)
}

/// The lines of `text` where `needle` stands with no word character next to it, nor one that
/// `refused_before` names just before it.
fn lines_holding(text: &str, needle: &str, refused_before: impl Fn(char) -> bool) -> Vec<String> {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.lines()
        .filter(|line| {
            line.match_indices(needle).any(|(at, _)| {
                let before = line[..at].chars().next_back();
                let after = line[at + needle.len()..].chars().next();
                !before.is_some_and(|c| is_word(c) || refused_before(c)) && !after.is_some_and(is_word)
            })
        })
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::lines_holding;

    #[test]
    fn a_name_is_found_as_a_word_and_a_code_as_a_token_of_its_own() {
        let text = "user=ann\nit cannot be read; channel\nconsole:ann\nelapsed_us=123456\ncode 123456 sent";
        assert_eq!(lines_holding(text, "ann", |_| false), ["user=ann", "console:ann"]);
        assert_eq!(lines_holding(text, "123456", |c| c == '='), ["code 123456 sent"]);
    }
}
