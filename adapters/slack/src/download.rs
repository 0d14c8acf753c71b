//! Fetching the bytes of a file a user shared: `files.info` names its private download URL, and the file is
//! streamed from there with the bot token, cut off at the bot's size cap. The token is only ever sent to
//! Slack's file host (`https://files.slack.com`) or to the host the Web API itself is configured on, never
//! to whatever host a URL names.

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use palisade_core::SendError;
use url::Url;

/// Slack's host for private file downloads.
const FILE_HOST: &str = "files.slack.com";

/// A pooled client for file downloads, holding the bot token.
pub struct Downloader {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    api_base: Url,
    token: palisade_core::Secret,
}

impl std::fmt::Debug for Downloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Downloader").field("api_base", &self.api_base.as_str()).finish_non_exhaustive()
    }
}

impl Downloader {
    /// A downloader for a bot whose Web API lives at `api_base`.
    pub fn new(api_base: &str, token: palisade_core::Secret) -> Result<Self, String> {
        let https = crate::connector::https(api_base)?;
        let api_base = Url::parse(api_base).map_err(|e| format!("`{api_base}` is not a URL: {e}"))?;
        Ok(Self { client: Client::builder(TokioExecutor::new()).build(https), api_base, token })
    }

    /// True when the bot token may be sent to `url`: Slack's file host over HTTPS, or the Web API's own host.
    pub fn trusted(&self, url: &Url) -> bool {
        let slack = url.scheme() == "https" && url.host_str() == Some(FILE_HOST) && url.port().is_none();
        slack || url.origin() == self.api_base.origin()
    }

    /// The file at `url`, at most `max_bytes` (a larger one is refused while streaming, never read whole).
    pub async fn get(&self, url: &Url, max_bytes: u64) -> Result<Vec<u8>, SendError> {
        if !self.trusted(url) {
            return Err(SendError::Rejected(format!(
                "a file download from {} was refused: the bot token is only sent to {FILE_HOST}",
                url.host_str().unwrap_or("an address without a host")
            )));
        }
        let request = hyper::Request::get(url.as_str())
            .header(hyper::header::AUTHORIZATION, format!("Bearer {}", self.token.expose()))
            .body(Empty::new())
            .map_err(|e| SendError::Rejected(format!("a file download request could not be made: {e}")))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| SendError::Unreachable(format!("Slack's file host: {e}")))?;
        let status = response.status();
        if !status.is_success() {
            return Err(SendError::Rejected(format!("Slack's file host answered {status}")));
        }
        let mut body = response.into_body();
        let mut bytes = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| SendError::Unreachable("the file download broke off".into()))?;
            if let Some(chunk) = frame.data_ref() {
                if (bytes.len() + chunk.len()) as u64 > max_bytes {
                    return Err(SendError::Rejected("the file is larger than this bot accepts".into()));
                }
                bytes.extend_from_slice(chunk);
            }
        }
        Ok(bytes)
    }
}
