//! Keeping the bot token out of logs and errors.
//!
//! The Bot API puts the token in every request URL (`/bot<token>/SendMessage`), so an HTTP error may carry it.
//! teloxide already strips tokens of the usual shape from its network errors; everything this adapter logs or
//! returns goes through [`describe`] / [`redact`] as well, so a token of any shape, or a foreign one, never
//! leaves the process in text. Errors are also described without the response body, which may quote messages.

use teloxide::RequestError;

const MARK: &str = "[redacted]";

/// Removes `token` (whole, URL-encoded, or its secret half) and anything shaped like a bot token from `text`.
pub fn redact(text: &str, token: &str) -> String {
    let mut out = text.to_string();
    if !token.is_empty() {
        out = out.replace(token, MARK).replace(&token.replace(':', "%3A"), MARK);
        if let Some((_, secret)) = token.split_once(':')
            && secret.len() >= 8
        {
            out = out.replace(secret, MARK);
        }
    }
    redact_token_shapes(&out)
}

/// Replaces every `<digits>:<30 or more of A-Z a-z 0-9 _ ->` (the shape of bot tokens) with a mark.
fn redact_token_shapes(text: &str) -> String {
    let bytes = text.as_bytes();
    let is_secret = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b':' {
            i += 1;
            continue;
        }
        let start = (0..i).rev().take_while(|&j| bytes[j].is_ascii_digit()).last().unwrap_or(i);
        let end = (i + 1..bytes.len()).find(|&j| !is_secret(bytes[j])).unwrap_or(bytes.len());
        if i - start >= 3 && end - (i + 1) >= 30 {
            out.push_str(&text[copied..start]);
            out.push_str(MARK);
            copied = end;
        }
        i = end.max(i + 1);
    }
    out.push_str(&text[copied..]);
    out
}

/// A description of a failed request that is safe to log or show an operator: no token, no message content.
pub fn describe(error: &RequestError, token: &str) -> String {
    let text = match error {
        RequestError::Api(e) => format!("Telegram refused the request: {e}"),
        RequestError::MigrateToChatId(id) => {
            format!("the group became a supergroup with id {id}; it must be addressed by the new id")
        }
        RequestError::RetryAfter(s) => format!("flood control: Telegram asks to wait {} s", s.seconds()),
        RequestError::Network(e) => {
            let mut text = format!("network error: {e}");
            let mut source = std::error::Error::source(&**e);
            while let Some(s) = source {
                text.push_str(&format!(": {s}"));
                source = s.source();
            }
            text
        }
        RequestError::InvalidJson { .. } => "Telegram's answer could not be parsed (body withheld from logs)".into(),
        RequestError::Io(e) => format!("I/O error while preparing the request: {e}"),
    };
    redact(&text, token)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";

    #[test]
    fn removes_the_token_in_any_form() {
        let url = format!("error sending request for url (http://127.0.0.1:1/bot{TOKEN}/GetUpdates)");
        assert_eq!(redact(&url, TOKEN), "error sending request for url (http://127.0.0.1:1/bot[redacted]/GetUpdates)");
        assert_eq!(redact(&TOKEN.replace(':', "%3A"), TOKEN), "[redacted]");
        assert_eq!(redact("secret half AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", TOKEN), "secret half [redacted]");
    }

    #[test]
    fn removes_foreign_tokens_by_shape_and_keeps_ordinary_text() {
        let other = "/bot987654321:ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ/x";
        assert_eq!(redact(other, TOKEN), "/bot[redacted]/x");
        for plain in
            ["at 12:30 the chat 42:ok", "time 10:00:00", "", ":", "1234:", "ab:cdefghijklmnopqrstuvwxyz0123456789"]
        {
            assert_eq!(redact(plain, TOKEN), plain);
        }
        assert_eq!(redact("ünïcode 123:ÄÖÜ", ""), "ünïcode 123:ÄÖÜ");
    }

    #[test]
    fn describes_errors_without_body_or_token() {
        let json_err = serde_json::from_str::<u8>("x").unwrap_err();
        let e = RequestError::InvalidJson { source: std::sync::Arc::new(json_err), raw: "user said hi".into() };
        assert!(!describe(&e, TOKEN).contains("user said hi"));
        let e = RequestError::RetryAfter(teloxide::types::Seconds::from_seconds(3));
        assert_eq!(describe(&e, TOKEN), "flood control: Telegram asks to wait 3 s");
        let e = RequestError::Api(teloxide::ApiError::Unknown(format!("bad {TOKEN}")));
        assert!(!describe(&e, TOKEN).contains(TOKEN));
    }
}
