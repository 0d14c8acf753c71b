//! Keeping the bot token out of logs and errors.
//!
//! The Bot API puts the token in every request URL (`/bot<token>/SendMessage`), so an HTTP error may carry it.
//! [`protect`] registers the configured token (whole, URL-encoded and its secret half) and the shape of bot
//! tokens with the adapter kit's redactor, through which every log line passes; everything this adapter
//! returns as text goes through [`describe`], which redacts too. Errors are described without the response
//! body, which may quote messages.

use palisade_adapter_kit::redact;
use teloxide::RequestError;

/// The shape of a bot token: `<digits>:<30 or more of A-Z a-z 0-9 _ ->`.
const TOKEN_SHAPE: &str = r"\d{3,}:[A-Za-z0-9_-]{30,}";

/// Masks `token` in any form, and anything shaped like a bot token, in every line written from now on.
pub fn protect(token: &str) {
    redact::register_secret(token);
    if let Some((_, secret)) = token.split_once(':') {
        redact::register_secret(secret);
    }
    if let Err(e) = redact::register(TOKEN_SHAPE, redact::MARK) {
        tracing::error!(error = %e, "the bot token shape could not be registered for redaction");
    }
}

/// A description of a failed request that is safe to log or show an operator: no token, no message content.
pub fn describe(error: &RequestError) -> String {
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
    redact::redact(&text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";

    fn masked(text: &str) -> String {
        protect(TOKEN);
        redact::redact(text).into_owned()
    }

    #[test]
    fn removes_the_token_in_any_form() {
        let url = format!("error sending request for url (http://127.0.0.1:1/bot{TOKEN}/GetUpdates)");
        assert_eq!(masked(&url), "error sending request for url (http://127.0.0.1:1/bot[redacted]/GetUpdates)");
        assert_eq!(masked(&TOKEN.replace(':', "%3A")), "[redacted]");
        assert_eq!(masked("secret half AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"), "secret half [redacted]");
    }

    #[test]
    fn removes_foreign_tokens_by_shape_and_keeps_ordinary_text() {
        let other = "/bot987654321:ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ/x";
        assert_eq!(masked(other), "/bot[redacted]/x");
        for plain in
            ["at 12:30 the chat 42:ok", "time 10:00:00", "", ":", "1234:", "ab:cdefghijklmnopqrstuvwxyz0123456789"]
        {
            assert_eq!(masked(plain), plain);
        }
        assert_eq!(masked("ünïcode 123:ÄÖÜ"), "ünïcode 123:ÄÖÜ");
    }

    #[test]
    fn describes_errors_without_body_or_token() {
        protect(TOKEN);
        let json_err = serde_json::from_str::<u8>("x").unwrap_err();
        let e = RequestError::InvalidJson { source: std::sync::Arc::new(json_err), raw: "user said hi".into() };
        assert!(!describe(&e).contains("user said hi"));
        let e = RequestError::RetryAfter(teloxide::types::Seconds::from_seconds(3));
        assert_eq!(describe(&e), "flood control: Telegram asks to wait 3 s");
        let e = RequestError::Api(teloxide::ApiError::Unknown(format!("bad {TOKEN}")));
        assert!(!describe(&e).contains(TOKEN));
    }
}
