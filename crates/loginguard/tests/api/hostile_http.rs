//! Hostile HTTP clients (PROTOCOL Part 2): forged `X-Forwarded-For` lines,
//! JSON arrays where objects belong, huge headers, URIs and bodies, and the
//! headers every `/api/` answer carries.
//!
//! Requests whose exact bytes matter (two header lines, a body the client
//! pushes whole before reading) go over a raw TCP socket.

use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

use crate::helpers::*;
use crate::redis_server::RedisServer;

/// A response read off a raw socket.
struct RawReply {
    status: u16,
    /// Header lines, names lowercased.
    headers: Vec<(String, String)>,
    body: Value,
}

impl RawReply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `head` (request line and header lines, each ending in CRLF) with
/// `Connection: close`, then `body` whole, then reads the answer to the end.
async fn raw(app: &TestApp, head: &str, body: &[u8]) -> RawReply {
    // A small send buffer, as across a real network: a large body does not
    // vanish into the kernel, so the server must read it for the client to
    // finish sending and get to its answer.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_send_buffer_size(16 * 1024).unwrap();
    let mut socket = socket.connect(app.addr.parse().unwrap()).await.unwrap();
    let request = format!("{head}Host: test\r\nConnection: close\r\n\r\n");
    socket.write_all(request.as_bytes()).await.unwrap();
    socket
        .write_all(body)
        .await
        .expect("the server takes the whole body");
    let mut bytes = Vec::new();
    tokio::time::timeout(WAIT, socket.read_to_end(&mut bytes))
        .await
        .expect("an answer in time")
        .expect("an answer, not a reset");
    let text = String::from_utf8_lossy(&bytes);
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete answer");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {head}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let body = serde_json::from_str(body).unwrap_or_else(|_| panic!("JSON body: {body:?}"));
    RawReply {
        status,
        headers,
        body,
    }
}

/// A sign-in over a raw socket with these `X-Forwarded-For` lines.
async fn login_forwarded(app: &TestApp, password: &str, forwarded: &[&str]) -> RawReply {
    let body = json!({"username": "user1", "password": password, "device": "PC2"}).to_string();
    let mut head = format!(
        "POST /api/auth/login HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for line in forwarded {
        head.push_str(&format!("X-Forwarded-For: {line}\r\n"));
    }
    raw(app, &head, body.as_bytes()).await
}

fn behind_proxy() -> loginguard::config::Config {
    let mut config = base_config();
    config.http.trust_forwarded_for = true;
    config.limits.rate_limit_ip = 3;
    config.limits.rate_limit_account = 0;
    config
}

#[tokio::test]
async fn a_forged_first_forwarded_line_does_not_dodge_the_ip_limit() {
    let app = spawn_app(behind_proxy()).await;
    // The client forges a new address each time; the proxy appends its own line.
    for forged in 1..=3 {
        let r = login_forwarded(&app, "wrong", &[&format!("6.6.6.{forged}"), "203.0.113.7"]).await;
        assert_eq!(r.status, 401, "{}", r.body);
    }
    let r = login_forwarded(&app, "wrong", &["6.6.6.9", "203.0.113.7"]).await;
    assert_eq!(
        (r.status, &r.body["error"]["code"]),
        (429, &json!("rate_limited")),
        "{}",
        r.body
    );
    // Another client behind the same proxy has its own bucket.
    let r = login_forwarded(&app, "wrong", &["203.0.113.7", "198.51.100.1"]).await;
    assert_eq!(r.status, 401, "{}", r.body);
}

#[tokio::test]
async fn the_kicking_device_is_shown_with_the_proxys_address_port_stripped() {
    let app = spawn_app(behind_proxy()).await;
    let first = app.login_ok("user1", "PC1").await;
    let mut ws = app.ws_authed(&first).await;
    let r = login_forwarded(
        &app,
        "password1",
        &["6.6.6.6", "10.0.0.1, 203.0.113.7:5678"],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let kick = ws.expect_force_logout("duplicate_login").await;
    assert_eq!(kick["by"]["ip"], "203.0.113.7", "{kick}");

    for (line, ip) in [
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("2001:db8::2", "2001:db8::2"),
        ("not-an-address", "127.0.0.1"),
    ] {
        let r = login_forwarded(&app, "password1", &["6.6.6.6", line]).await;
        let token = r.body["token"].as_str().expect("signed in").to_owned();
        let me = app.get("/api/auth/session", Some(&token)).await;
        assert_eq!(me.body["ip"], ip, "{line}: {}", me.body);
    }
}

#[tokio::test]
async fn json_arrays_are_not_objects_on_http_or_the_socket() {
    let app = spawn_app(base_config()).await;
    for body in [r#"["user1","password1"]"#, r#"["user1","password1","PC1"]"#] {
        let r = app
            .http
            .post(app.url("/api/auth/login"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{body}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "bad_request", "{body}: {v}");
    }

    let token = app.login_ok("user1", "PC1").await;
    let mut early = app.ws_raw().await;
    early.send_json(json!(["auth", token])).await;
    early.expect_close_code(4003).await;

    let mut ws = app.ws_authed(&token).await;
    for frame in [json!(["ping"]), json!(["auth", token])] {
        ws.send_json(frame.clone()).await;
        assert_eq!(
            ws.next_json().await,
            json!({"type": "error", "code": "bad_message"}),
            "{frame}"
        );
    }
}

#[tokio::test]
async fn a_huge_user_agent_is_stored_cut_to_256_characters() {
    let redis = RedisServer::start();
    let app = spawn_app(redis_config(&redis)).await;
    let agent = format!("Mozilla/5.0 {}", "A".repeat(16 * 1024));
    let r = app
        .http
        .post(app.url("/api/auth/login"))
        .header("user-agent", &agent)
        .json(&json!({"username": "user1", "password": "password1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let keys = redis.cli(&["--scan", "--pattern", "lg:*:s"]).unwrap();
    let key = keys.lines().next().expect("a session hash");
    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let stored: Vec<Vec<u8>> = redis::cmd("HVALS")
        .arg(key)
        .query_async(&mut conn)
        .await
        .unwrap();
    let [record] = &stored[..] else {
        panic!("one session record")
    };
    // The record holds the agent's text as it is (docs/redis.md "Records"),
    // and the byte after it is not the agent's next `A`.
    let has = |n: usize| record.windows(n).any(|w| w == &agent.as_bytes()[..n]);
    assert!(has(256) && !has(257), "cut to 256 characters");
}

/// Every `/api/` answer, success or error, is not cached and not sniffed.
#[tokio::test]
async fn every_api_answer_is_no_store_and_nosniff() {
    let app = spawn_app(base_config()).await;
    let login = json!({"username": "user1", "password": "password1"});
    let user = app.login_ok("user1", "PC1").await;
    let admin = app.login_ok("admin", "console").await;
    let cases: Vec<(Method, &str, Option<&str>, Option<Value>)> = vec![
        (Method::POST, "/api/auth/login", None, Some(login)),
        (
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"username": "user1", "password": "no"})),
        ),
        (Method::GET, "/api/auth/session", Some(&user), None),
        (Method::GET, "/api/auth/session", None, None),
        (Method::GET, "/api/auth/sessions", Some(&user), None),
        (Method::GET, "/api/admin/sessions", Some(&admin), None),
        (Method::GET, "/api/admin/sessions", Some(&user), None),
        (Method::GET, "/api/demo", None, None),
        (Method::GET, "/api/nope", None, None),
        (Method::PUT, "/api/auth/login", None, None),
        (Method::POST, "/api/auth/logout", Some(&user), None),
    ];
    for (method, path, token, body) in cases {
        let r = app.request(method.clone(), path, token, body).await;
        assert_eq!(
            r.headers.get("cache-control").map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{method} {path} ({})",
            r.status
        );
        assert_eq!(
            r.headers
                .get("x-content-type-options")
                .map(|v| v.to_str().unwrap()),
            Some("nosniff"),
            "{method} {path} ({})",
            r.status
        );
    }
}

/// What the HTTP layer refuses by itself still has the JSON error shape
/// (and the `/api/` headers): a URI over 8 KiB...
#[tokio::test]
async fn an_over_long_uri_gets_the_json_414() {
    let app = spawn_app(base_config()).await;
    let long_uri = format!("/api/auth/session?pad={}", "x".repeat(10 * 1024));
    let r = raw(&app, &format!("GET {long_uri} HTTP/1.1\r\n"), b"").await;
    assert_eq!(
        (r.status, &r.body["error"]["code"]),
        (414, &json!("uri_too_long"))
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
}

/// ... headers over 64 KiB or 100 lines ...
#[tokio::test]
async fn oversized_headers_get_the_json_431() {
    let app = spawn_app(base_config()).await;
    let huge_agent = format!("User-Agent: {}\r\n", "A".repeat(100 * 1024));
    let many: String = (0..150).map(|i| format!("X-Pad-{i}: 1\r\n")).collect();
    for headers in [huge_agent, many] {
        let head = format!("GET /api/auth/session HTTP/1.1\r\n{headers}");
        let r = raw(&app, &head, b"").await;
        assert_eq!(
            (r.status, &r.body["error"]["code"]),
            (431, &json!("headers_too_large"))
        );
    }
}

/// ... and a body over 16 KiB, even pushed whole (1 MiB) before the client
/// reads: it gets the 413, not a reset.
#[tokio::test]
async fn a_1_mib_body_pushed_whole_still_gets_the_json_413() {
    let app = spawn_app(base_config()).await;
    let body = vec![b'x'; 1024 * 1024];
    let head = format!(
        "POST /api/auth/login HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    let r = raw(&app, &head, &body).await;
    assert_eq!(
        (r.status, &r.body["error"]["code"]),
        (413, &json!("payload_too_large"))
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));

    let mut chunked = format!("{:x}\r\n", body.len()).into_bytes();
    chunked.extend_from_slice(&body);
    chunked.extend_from_slice(b"\r\n0\r\n\r\n");
    let head = "POST /api/auth/login HTTP/1.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n";
    let r = raw(&app, head, &chunked).await;
    assert_eq!(
        (r.status, &r.body["error"]["code"]),
        (413, &json!("payload_too_large")),
        "without a declared length too"
    );
}
