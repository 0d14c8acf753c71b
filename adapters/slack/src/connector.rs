//! The HTTPS connector under slack-morphism, and the one rustls crypto provider.
//!
//! slack-morphism's own `SlackClientHyperConnector::new()` is HTTPS-only and offers HTTP/2 alone; it also
//! relies on rustls' process-wide default provider, and panics when two providers (ring and aws-lc-rs) are
//! compiled in and none was chosen. So the connector is built here: the *ring* provider given explicitly,
//! the system's CA roots, HTTP/1.1 and HTTP/2, HTTPS only — except that a build with the `loopback-http`
//! feature (this crate's tests) may talk plain HTTP to a loopback address. Ring is also installed as the
//! process default when nothing else is, because the Socket Mode WebSocket (tokio-tungstenite) uses it.

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use slack_morphism::hyper_tokio::SlackClientHyperConnector;

/// The connector type every Slack client in this crate uses.
pub type Connector = SlackClientHyperConnector<HttpsConnector<HttpConnector>>;

/// Installs ring as rustls' process-wide provider unless one is installed already.
pub fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race with another installer is fine: some provider is then the default.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// A connector for the Web API at `api_base` (e.g. `https://slack.com/api`). Fails when the system has no
/// CA certificates, or when `api_base` is plain HTTP where that is not allowed.
pub fn build(api_base: &str) -> Result<Connector, String> {
    Ok(SlackClientHyperConnector::with_connector(https(api_base)?).with_slack_api_url(api_base))
}

/// The HTTPS connector itself (the Web API's, and file downloads'), under the same rules as [`build`].
pub fn https(api_base: &str) -> Result<HttpsConnector<HttpConnector>, String> {
    install_crypto_provider();
    let provider = rustls::crypto::ring::default_provider();
    let roots = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(provider)
        .map_err(|e| format!("cannot load the system's CA certificates ({e}); install the ca-certificates package"))?;
    if api_base.starts_with("http://") {
        if !plain_http_allowed(api_base) {
            return Err(format!("`{api_base}` must be an https:// URL"));
        }
        Ok(roots.https_or_http().enable_http1().enable_http2().build())
    } else {
        Ok(roots.https_only().enable_http1().enable_http2().build())
    }
}

/// True when `url` may be spoken to in plain HTTP: only in builds with the `loopback-http` feature, and only
/// to a loopback address.
pub fn plain_http_allowed(url: &str) -> bool {
    cfg!(feature = "loopback-http") && is_loopback(url)
}

fn is_loopback(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| palisade_adapter_kit::api_base::is_loopback(&u))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts_count_as_loopback() {
        assert!(is_loopback("http://127.0.0.1:9/api"));
        assert!(is_loopback("http://[::1]:9/api"));
        assert!(!is_loopback("http://slack.com/api"));
        assert!(!is_loopback("http://127.0.0.1.evil.example/api"));
        assert!(!is_loopback("not a url"));
    }

    #[test]
    fn https_is_always_accepted_and_http_only_on_loopback() {
        assert!(build("https://slack.com/api").is_ok());
        assert!(build("http://slack.com/api").is_err());
        assert_eq!(build("http://127.0.0.1:9/api").is_ok(), cfg!(feature = "loopback-http"));
    }
}
