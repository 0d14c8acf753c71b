//! The integration policy against a real local HTTPS server whose CA is trusted only in this test.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use palisade::Secret;
use palisade::integration::{HttpClient, IntegrationError, SIGNATURE_HEADER};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;

/// A one-route HTTPS server on 127.0.0.1:0 that records requests and answers `{"rate":1.08}`.
struct Server {
    port: u16,
    ca_pem: String,
    seen: Arc<Mutex<Vec<String>>>,
}

async fn https_server() -> Server {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf =
        CertificateParams::new(vec!["localhost".to_string()]).unwrap().signed_by(&leaf_key, &ca, &ca_key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, record) = (acceptor.clone(), record.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut buf = vec![0u8; 16_384];
                let n = tls.read(&mut buf).await.unwrap_or(0);
                record.lock().unwrap().push(String::from_utf8_lossy(&buf[..n]).into_owned());
                let body = "{\"rate\":1.08}";
                let reply =
                    format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
                let _ = tls.write_all(reply.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    Server { port, ca_pem: ca.pem(), seen }
}

fn client(server: &Server, secret: Option<&str>, max: usize) -> HttpClient {
    let allowed = BTreeSet::from(["localhost".to_string()]);
    HttpClient::new(
        "rates",
        allowed,
        Duration::from_secs(5),
        max,
        Some(server.ca_pem.as_bytes()),
        secret.map(Secret::new),
        None,
    )
    .unwrap()
}

#[tokio::test]
async fn an_allowed_host_is_reached_over_https_with_the_test_ca() {
    let server = https_server().await;
    let r = client(&server, None, 1024).get(&format!("https://localhost:{}/rates", server.port)).await.unwrap();
    assert_eq!((r.status, r.body.as_slice()), (200, &b"{\"rate\":1.08}"[..]));
    assert!(server.seen.lock().unwrap()[0].starts_with("GET /rates HTTP/1.1"));
}

#[tokio::test]
async fn without_the_test_ca_the_same_server_is_not_trusted() {
    let server = https_server().await;
    let allowed = BTreeSet::from(["localhost".to_string()]);
    let plain = HttpClient::new("rates", allowed, Duration::from_secs(5), 1024, None, None, None).unwrap();
    let err = plain.get(&format!("https://localhost:{}/rates", server.port)).await.unwrap_err();
    assert!(matches!(err, IntegrationError::Transport(_)), "{err}");
}

#[tokio::test]
async fn other_hosts_plain_http_and_oversized_answers_are_refused() {
    let server = https_server().await;
    let c = client(&server, None, 1024);
    let err = c.get("https://api.example.com/rates").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "host `api.example.com` is not allowed for plugin `rates`; the plugin must declare it and the operator must list it in [integrations.rates] allow"
    );
    let err = c.get(&format!("http://localhost:{}/rates", server.port)).await.unwrap_err();
    assert!(matches!(err, IntegrationError::NotHttps(_)), "{err}");
    let small = client(&server, None, 4);
    let err = small.get(&format!("https://localhost:{}/rates", server.port)).await.unwrap_err();
    assert!(matches!(err, IntegrationError::TooLarge(4)), "{err}");
    assert_eq!(server.seen.lock().unwrap().len(), 1, "only the size-capped request reached the server");
}

#[tokio::test]
async fn outgoing_webhooks_carry_a_signature_an_independent_implementation_verifies() {
    let server = https_server().await;
    let c = client(&server, Some("whsec_test_secret"), 1024);
    c.post_json(
        &format!("https://localhost:{}/hook", server.port),
        &serde_json::json!({"event": "transfer", "cents": 1250}),
    )
    .await
    .unwrap();
    let request = server.seen.lock().unwrap()[0].clone();
    let header = request
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .starts_with(&SIGNATURE_HEADER.to_ascii_lowercase())
                .then(|| l.split_once(": ").unwrap().1.to_string())
        })
        .unwrap();
    let body = request.split("\r\n\r\n").nth(1).unwrap();
    // Python's hmac recomputes HMAC-SHA256("t.body") and compares.
    let script = "import hmac,hashlib,sys\nh=dict(p.split('=',1) for p in sys.argv[1].split(','))\n\
        mac=hmac.new(b'whsec_test_secret',(h['t']+'.'+sys.argv[2]).encode(),hashlib.sha256).hexdigest()\nprint('ok' if hmac.compare_digest(mac,h['v1']) else 'bad')";
    let out = std::process::Command::new("python3").args(["-c", script, &header, body]).output().expect("python3");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok", "{}", String::from_utf8_lossy(&out.stderr));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!(palisade::integration::verify(b"whsec_test_secret", &header, body.as_bytes(), now, 300));
}
