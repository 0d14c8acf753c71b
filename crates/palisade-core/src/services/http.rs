//! The HTTP client a plugin gets for its integrations: the runtime's implementation speaks HTTPS only, to
//! hosts the plugin declared and the operator allowed, bounded in time and size.

use async_trait::async_trait;

/// Why a request was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Only `https://` URLs are allowed.
    #[error("only HTTPS is allowed for integrations; refused `{0}`")]
    NotHttps(String),
    /// The host is not allow-listed for this plugin.
    #[error(
        "host `{host}` is not allowed for plugin `{plugin}`; the plugin must declare it and the operator must list it in [integrations.{plugin}] allow"
    )]
    HostNotAllowed {
        /// The host asked for.
        host: String,
        /// The plugin.
        plugin: String,
    },
    /// The URL cannot be parsed.
    #[error("not a valid URL: {0}")]
    BadUrl(String),
    /// The response was larger than the cap.
    #[error("the response exceeded {0} bytes and was dropped")]
    TooLarge(usize),
    /// The service did not answer in time or the connection failed.
    #[error("the request failed: {0}")]
    Transport(String),
}

/// A response, fully read (within the size cap).
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// HTTP status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

/// A plugin's HTTP client.
#[async_trait]
pub trait Http: Send + Sync + 'static {
    /// `GET url`.
    async fn get(&self, url: &str) -> Result<HttpResponse, HttpError>;

    /// `POST url` with a JSON body (signed when the operator configured a webhook secret).
    async fn post_json(&self, url: &str, body: &serde_json::Value) -> Result<HttpResponse, HttpError>;
}

/// The client of a plugin with no allowed integrations: refuses everything, naming what to configure.
#[derive(Debug, Clone)]
pub struct Refusing {
    /// The plugin.
    pub plugin: String,
}

#[async_trait]
impl Http for Refusing {
    async fn get(&self, url: &str) -> Result<HttpResponse, HttpError> {
        Err(self.refuse(url))
    }

    async fn post_json(&self, url: &str, _body: &serde_json::Value) -> Result<HttpResponse, HttpError> {
        Err(self.refuse(url))
    }
}

impl Refusing {
    fn refuse(&self, url: &str) -> HttpError {
        if !url.starts_with("https://") {
            return HttpError::NotHttps(url.to_string());
        }
        let host = url.split("://").nth(1).and_then(|r| r.split(['/', ':', '?']).next()).unwrap_or(url);
        HttpError::HostNotAllowed { host: host.to_string(), plugin: self.plugin.clone() }
    }
}
