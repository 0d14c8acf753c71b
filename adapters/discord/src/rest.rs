//! The REST client: serenity's `Http`, pointed at discord.com or at a REST proxy, with retries and error
//! texts that never carry a token.
//!
//! serenity applies the proxy only when its own rate limiter is off (its limiter always talks to discord.com),
//! so with a proxy the proxy owns rate limiting — that is what users run one for — and this client only
//! backs off when the proxy still answers 429. Without a proxy serenity's limiter reads Discord's
//! rate-limit headers and waits before each request.
//!
//! Error texts are built from the status and Discord's JSON error only: serenity's and reqwest's own
//! `Display` include the request URL, and interaction URLs contain the interaction token.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use palisade_adapter_kit::{Backoff, Retry};

use serenity::http::{Http, HttpBuilder, HttpError};
use serenity::model::id::ApplicationId;

use crate::settings::DiscordSettings;

/// How often a request is tried before giving up.
const ATTEMPTS: u32 = 4;

/// Discord's "Unknown Webhook" / "Unknown interaction": also what a follow-up gets when it overtakes the
/// initial response it follows, so it is retried briefly.
const UNKNOWN_WEBHOOK: [isize; 2] = [10015, 10062];

/// The Discord REST client shared by the outbox, the endpoint and command registration.
pub struct Rest {
    http: Arc<Http>,
    token: palisade_core::Secret,
}

impl std::fmt::Debug for Rest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rest").field("proxy", &self.http.proxy).finish_non_exhaustive()
    }
}

/// A failed REST call, described safely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestError {
    /// The HTTP status, when Discord answered.
    pub status: Option<u16>,
    /// Discord's JSON error code, when it sent one.
    pub code: Option<isize>,
    /// What happened, without URLs or tokens.
    pub text: String,
    /// Discord could not be reached (connection or timeout), as opposed to answering with an error.
    pub network: bool,
}

impl std::fmt::Display for RestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl RestError {
    fn retryable(&self, young_interaction: bool) -> bool {
        if self.network {
            return true;
        }
        match (self.status, self.code) {
            (Some(429), _) => true,
            (Some(s), _) if s >= 500 => true,
            (Some(404), Some(code)) => young_interaction && UNKNOWN_WEBHOOK.contains(&code),
            _ => false,
        }
    }

    /// The equivalent [`palisade_core::SendError`].
    pub fn into_send_error(self) -> palisade_core::SendError {
        if self.network {
            palisade_core::SendError::Unreachable(self.text)
        } else {
            palisade_core::SendError::Rejected(self.text)
        }
    }
}

impl Rest {
    /// A client for `settings` (token, application id, optional proxy).
    pub fn new(settings: &DiscordSettings) -> Self {
        palisade_adapter_kit::redact::register_secret(settings.token.expose());
        Self { http: Arc::new(Self::build_http(settings)), token: settings.token.clone() }
    }

    /// A serenity client for `settings` (the gateway client takes its own).
    pub fn build_http(settings: &DiscordSettings) -> Http {
        let mut builder =
            HttpBuilder::new(settings.token.expose()).application_id(ApplicationId::new(settings.application_id.0));
        if let Some(proxy) = settings.proxy_base() {
            builder = builder.proxy(proxy).ratelimiter_disabled(true);
        }
        builder.build()
    }

    /// serenity's client (for builders' `execute` and the gateway).
    pub fn http(&self) -> &Arc<Http> {
        &self.http
    }

    /// Runs `call` (named `what` in logs), retrying network errors, 429 and 5xx answers with backoff.
    /// `young_interaction` also retries "unknown webhook", which a follow-up can meet while Discord is
    /// still processing the initial response.
    pub async fn call<T, F, Fut>(&self, what: &'static str, young_interaction: bool, call: F) -> Result<T, RestError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = serenity::Result<T>>,
    {
        let backoff = Backoff { attempts: ATTEMPTS, first: Duration::from_millis(250), ..Backoff::default() }
            .for_platform(palisade_core::Platform::DISCORD);
        let classify = |e: &serenity::Error| {
            let d = self.describe(e);
            match d.retryable(young_interaction) {
                // A 429 that reached us (serenity's limiter or the proxy already waited): back off and count it.
                true if d.status == Some(429) => Retry::After(Duration::from_millis(500)),
                true => Retry::Backoff,
                false => Retry::Never,
            }
        };
        let describe = |e: &serenity::Error| self.describe(e).text;
        backoff.run(what, classify, describe, call).await.map_err(|e| self.describe(&e))
    }

    /// A safe description of `error`: status and Discord's error, never the URL.
    pub fn describe(&self, error: &serenity::Error) -> RestError {
        let (status, code, text, network) = match error {
            serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) => {
                let status = r.status_code.as_u16();
                let code = (r.error.code >= 0).then_some(r.error.code);
                let text = match code {
                    Some(c) => format!("Discord answered {status} (code {c}: {})", r.error.message),
                    None => format!("Discord answered {status}"),
                };
                (Some(status), code, text, false)
            }
            serenity::Error::Http(HttpError::Request(e)) => {
                let kind = if e.is_timeout() {
                    "timed out"
                } else if e.is_connect() {
                    "could not connect"
                } else {
                    "failed"
                };
                (None, None, format!("the request to Discord {kind}"), true)
            }
            other => (None, None, other.to_string(), false),
        };
        RestError { status, code, text: self.redact(&text), network }
    }

    /// Removes the bot token (and anything shaped like a credential) from `text`.
    pub fn redact(&self, text: &str) -> String {
        let text = text.replace(self.token.expose(), "[discord-token]");
        palisade_adapter_kit::redact::redact(&text).into_owned()
    }
}
