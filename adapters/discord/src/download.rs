//! Fetching a file a user attached: Discord names it by a CDN address, which is fetched with one pooled
//! client (no token: attachment addresses are signed by Discord), cut off at the bot's size cap. Only
//! Discord's CDN hosts are fetched from — or the configured REST proxy's host, which may stand in for them —
//! never whatever host an address names.

use palisade_core::SendError;
use url::Url;

/// Discord's hosts for attachments.
const CDN_HOSTS: [&str; 2] = ["cdn.discordapp.com", "media.discordapp.net"];

/// A pooled client for attachment downloads.
#[derive(Debug, Clone)]
pub struct Downloader {
    client: reqwest::Client,
    proxy: Option<Url>,
}

impl Downloader {
    /// A downloader; `proxy` is the REST proxy's base URL, when one is configured.
    pub fn new(proxy: Option<&str>) -> Self {
        let proxy = proxy.and_then(|p| Url::parse(p).ok());
        let client = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(120))
            .build()
            .unwrap_or_default();
        Self { client, proxy }
    }

    /// True when `url` is on Discord's CDN (HTTPS), or on the configured proxy's host.
    pub fn trusted(&self, url: &Url) -> bool {
        let cdn = url.scheme() == "https" && url.host_str().is_some_and(|h| CDN_HOSTS.contains(&h));
        cdn || self.proxy.as_ref().is_some_and(|p| p.origin() == url.origin())
    }

    /// The attachment at `address`, at most `max_bytes` (a larger one is refused while streaming).
    pub async fn get(&self, address: &str, max_bytes: u64) -> Result<Vec<u8>, SendError> {
        let url =
            Url::parse(address).map_err(|_| SendError::Rejected("an attachment address that is not a URL".into()))?;
        if !self.trusted(&url) {
            return Err(SendError::Rejected(format!(
                "an attachment on {} was not fetched: only Discord's CDN is",
                url.host_str().unwrap_or("an address without a host")
            )));
        }
        let failed = |e: reqwest::Error| {
            let kind = if e.is_timeout() { "timed out" } else { "failed" };
            SendError::Unreachable(format!("the attachment download {kind}"))
        };
        let mut response = self.client.get(url).send().await.map_err(failed)?;
        if !response.status().is_success() {
            return Err(SendError::Rejected(format!("Discord's CDN answered {}", response.status().as_u16())));
        }
        if response.content_length().is_some_and(|n| n > max_bytes) {
            return Err(SendError::Rejected("the file is larger than this bot accepts".into()));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if (bytes.len() + chunk.len()) as u64 > max_bytes {
                return Err(SendError::Rejected("the file is larger than this bot accepts".into()));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}
