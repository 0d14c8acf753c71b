//! Where an adapter may send its token: the base URL of a platform API (or of a proxy in front of it) must
//! be `https://`, except a loopback address (a local proxy or a test double), which may be plain `http://`.
//! A token sent over plain HTTP to anywhere else could be read on the way.

use std::net::IpAddr;

use palisade_core::config::Problem;

/// Checks `base` (the value of key `key`) and returns it without a trailing slash.
pub fn check(base: &str, key: &str) -> Result<String, Problem> {
    let trimmed = base.trim_end_matches('/');
    let url = url::Url::parse(trimmed)
        .map_err(|e| Problem::at(key, format!("`{base}` is not a URL ({e}); write it like https://host[:port]")))?;
    match url.scheme() {
        "https" => Ok(trimmed.to_string()),
        "http" if is_loopback(&url) => Ok(trimmed.to_string()),
        "http" => Err(Problem::at(
            key,
            format!(
                "`{base}` would send the token in cleartext: use https://, or http:// only to a loopback address \
                 (127.0.0.1, ::1, localhost)"
            ),
        )),
        other => Err(Problem::at(key, format!("`{base}` has scheme `{other}`; use https://"))),
    }
}

/// True when `url` names this machine: `localhost`, 127.0.0.0/8 or ::1.
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn https_anywhere_http_only_to_loopback() {
        assert_eq!(check("https://api.telegram.org/", "k").ok().as_deref(), Some("https://api.telegram.org"));
        assert!(check("http://127.0.0.1:8081/", "k").is_ok());
        assert!(check("http://[::1]:9", "k").is_ok());
        assert!(check("http://localhost:9", "k").is_ok());
        let e = check("http://proxy.internal:3000", "adapters.discord.proxy").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("adapters.discord.proxy"));
        assert!(e.message.contains("cleartext") && e.message.contains("loopback"));
        assert!(check("127.0.0.1:3000", "k").is_err());
        assert!(check("ftp://x", "k").is_err());
    }
}
