//! The HTTP client handed to plugins: HTTPS only, allow-listed hosts only, bounded in time and size.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use crate::audit::{Audit, Outcome};
use crate::config::Secret;

pub use palisade_core::services::{HttpError as IntegrationError, HttpResponse as Response};

/// One plugin's HTTP client.
#[derive(Clone)]
pub struct HttpClient {
    plugin: String,
    allowed: Arc<BTreeSet<String>>,
    max_bytes: usize,
    webhook_secret: Option<Secret>,
    inner: reqwest::Client,
    audit: Option<Arc<Audit>>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("plugin", &self.plugin)
            .field("allowed", &self.allowed)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl palisade_core::services::Http for HttpClient {
    async fn get(&self, url: &str) -> Result<Response, IntegrationError> {
        HttpClient::get(self, url).await
    }

    async fn post_json(&self, url: &str, body: &serde_json::Value) -> Result<Response, IntegrationError> {
        HttpClient::post_json(self, url, body).await
    }
}

impl HttpClient {
    /// A client for `plugin` allowed to reach `allowed` hosts; `extra_root` (PEM) is trusted besides the
    /// public roots (a company CA, or a test's own CA).
    pub fn new(
        plugin: &str,
        allowed: BTreeSet<String>,
        timeout: Duration,
        max_bytes: usize,
        extra_root: Option<&[u8]>,
        webhook_secret: Option<Secret>,
        audit: Option<Arc<Audit>>,
    ) -> Result<Self, String> {
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .https_only(true)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("palisade/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = extra_root {
            let cert = reqwest::Certificate::from_pem(pem)
                .map_err(|e| format!("the CA file is not a PEM certificate: {e}"))?;
            builder = builder.add_root_certificate(cert);
        }
        let inner = builder.build().map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self { plugin: plugin.into(), allowed: Arc::new(allowed), max_bytes, webhook_secret, inner, audit })
    }

    async fn check(&self, url: &str) -> Result<url::Url, IntegrationError> {
        let parsed = url::Url::parse(url).map_err(|e| IntegrationError::BadUrl(format!("{url}: {e}")))?;
        let refusal = if parsed.scheme() != "https" {
            Some(IntegrationError::NotHttps(url.to_string()))
        } else {
            let host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
            (!self.allowed.contains(&host))
                .then(|| IntegrationError::HostNotAllowed { host, plugin: self.plugin.clone() })
        };
        match refusal {
            Some(e) => {
                tracing::warn!(plugin = self.plugin, error = %e, "integration request refused");
                if let Some(audit) = &self.audit {
                    let host = parsed.host_str().unwrap_or_default().to_string();
                    let details = [("plugin", self.plugin.clone()), ("host", host), ("scheme", parsed.scheme().into())];
                    audit.note("integration.refused", None, Outcome::Denied, &details).await;
                }
                Err(e)
            }
            None => Ok(parsed),
        }
    }

    /// `GET url`.
    pub async fn get(&self, url: &str) -> Result<Response, IntegrationError> {
        let url = self.check(url).await?;
        self.read(self.inner.get(url)).await
    }

    /// `POST url` with a JSON body, signed with `X-Palisade-Signature` when a webhook secret is configured.
    pub async fn post_json(&self, url: &str, body: &serde_json::Value) -> Result<Response, IntegrationError> {
        let url = self.check(url).await?;
        let bytes = serde_json::to_vec(body).map_err(|e| IntegrationError::Transport(e.to_string()))?;
        let mut request = self.inner.post(url).header("content-type", "application/json");
        if let Some(secret) = &self.webhook_secret {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
            let signature = super::sign(secret.expose().as_bytes(), now, &bytes)
                .map_err(|e| IntegrationError::Transport(e.to_string()))?;
            request = request.header(super::SIGNATURE_HEADER, signature);
        }
        self.read(request.body(bytes)).await
    }

    async fn read(&self, request: reqwest::RequestBuilder) -> Result<Response, IntegrationError> {
        // The error text can include the URL; a plugin's URLs must not carry secrets in query strings.
        let transport =
            |e: reqwest::Error| IntegrationError::Transport(crate::logging::redact(&e.to_string()).into_owned());
        let mut response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        if response.content_length().is_some_and(|n| n > self.max_bytes as u64) {
            return Err(IntegrationError::TooLarge(self.max_bytes));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(IntegrationError::TooLarge(self.max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response { status, body })
    }
}
