//! TLS on the listener: HTTPS and WSS on one port, and a certificate
//! reloaded on request without dropping open sockets.
//!
//! Certificates are made at test time (rcgen); the client side is rustls
//! trusting only the test CA, so a wrong certificate fails the handshake.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use loginguard::domain::ManualClock;
use loginguard::startup::App;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::helpers::*;

/// The test CA (a certificate for 127.0.0.1 signed by it is written beside it).
struct TestPki {
    ca_der: Vec<u8>,
}

/// A new CA and server certificate in `dir` (`redis.pem`, `redis.key`).
fn make_pki(dir: &std::path::Path) -> TestPki {
    use rustls::pki_types::pem::PemObject;
    let certs = crate::secure_redis::TestCerts::write_to(dir);
    let ca = rustls::pki_types::CertificateDer::from_pem_file(&certs.ca).unwrap();
    TestPki {
        ca_der: ca.to_vec(),
    }
}

fn connector(pki: &TestPki) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    roots.add(pki.ca_der.clone().into()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

async fn tls_connect(addr: &str, pki: &TestPki) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    connector(pki).connect(name, tcp).await
}

/// One HTTPS request (Connection: close); the status and JSON body.
async fn https(addr: &str, pki: &TestPki, method: &str, path: &str, body: Value) -> (u16, Value) {
    let mut stream = tls_connect(addr, pki).await.expect("TLS handshake");
    let body = body.to_string();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response);
    let status = text[9..12].parse().unwrap();
    let json = text
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    (status, json)
}

async fn sign_in(addr: &str, pki: &TestPki, device: &str) -> String {
    let (status, body) = https(
        addr,
        pki,
        "POST",
        "/api/auth/login",
        json!({"username": "user1", "password": "password1", "device": device}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

async fn next_json<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>) -> Value
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        let frame = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame in time")
            .expect("socket open")
            .expect("frame");
        if let Message::Text(t) = frame {
            return serde_json::from_str(t.as_str()).unwrap();
        }
    }
}

#[tokio::test]
async fn https_and_wss_on_one_port_and_a_reloaded_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let first = make_pki(dir.path());
    let mut config = base_config();
    config.http.tls_cert = Some(dir.path().join("redis.pem"));
    config.http.tls_key = Some(dir.path().join("redis.key"));
    let app = App::build_with_clock(config, Arc::new(ManualClock::new()))
        .await
        .expect("app builds with TLS");
    let addr = app.local_addr().to_string();
    let reloads = app.reload_handle();
    let cancel = CancellationToken::new();
    let _stop = cancel.clone().drop_guard();
    tokio::spawn(app.run(cancel));

    // PC1 over HTTPS, its socket over WSS on the same port.
    let pc1 = sign_in(&addr, &first, "PC1").await;
    let stream = tls_connect(&addr, &first).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(format!("wss://{addr}/ws"), stream)
        .await
        .expect("WSS upgrade");
    ws.send(Message::Text(
        json!({"type": "auth", "token": pc1}).to_string().into(),
    ))
    .await
    .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "auth_ok");

    // Plain HTTP on the TLS port gets nothing useful.
    let mut plain = TcpStream::connect(&addr).await.unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(WAIT, plain.read_to_end(&mut buf)).await;
    assert!(!String::from_utf8_lossy(&buf).contains("200 OK"));

    // A new certificate from another CA, put in force by a reload request.
    let second = make_pki(dir.path());
    assert!(
        tls_connect(&addr, &second).await.is_err(),
        "the old certificate is still served before the reload"
    );
    reloads.request();
    eventually("the new certificate is served", || async {
        tls_connect(&addr, &second).await.is_ok()
    })
    .await;

    // The socket opened under the old certificate is still served and still kicked.
    ws.send(Message::Text(r#"{"type":"ping"}"#.into()))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "pong");
    sign_in(&addr, &second, "PC2").await;
    let kick = next_json(&mut ws).await;
    assert_eq!(kick["type"], "force_logout", "{kick}");
    assert_eq!(kick["reason"], "duplicate_login");
    assert_eq!(kick["by"]["device"], "PC2");
}

#[test]
fn a_key_without_its_certificate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.pem");
    std::fs::write(&key, "not a key").unwrap();
    let (status, _, err) =
        crate::process::run(&["check-config", "--tls-key", key.to_str().unwrap()], "");
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("tls"), "{err}");
}
