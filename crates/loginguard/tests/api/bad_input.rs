//! Invariant 6: every malformed request gets a clear 4xx with a stable code,
//! never a 500, a panic or a hang, and nothing already stored is lost.
//!
//! One table per surface (HTTP endpoints, WebSocket messages); afterwards an
//! existing session and its socket must still work.

use futures_util::SinkExt;
use reqwest::Method;
use serde_json::json;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;

/// One bad request and the answer it must get.
struct Case {
    name: &'static str,
    method: Method,
    path: String,
    content_type: Option<&'static str>,
    auth: Auth,
    body: Vec<u8>,
    status: u16,
    code: &'static str,
}

#[derive(Clone, Copy)]
enum Auth {
    None,
    User,
    Admin,
    Raw(&'static str),
}

fn login_json(v: serde_json::Value) -> Vec<u8> {
    v.to_string().into_bytes()
}

fn cases() -> Vec<Case> {
    let json_ct = Some("application/json");
    let form_ct = Some("application/x-www-form-urlencoded");
    let login = |name, ct: Option<&'static str>, body: Vec<u8>, status, code| Case {
        name,
        method: Method::POST,
        path: "/api/auth/login".into(),
        content_type: ct,
        auth: Auth::None,
        body,
        status,
        code,
    };
    let bad = |name, body| login(name, json_ct, body, 400, "bad_request");
    let long = "x".repeat(65);
    let mut v = vec![
        login(
            "login without content type",
            None,
            login_json(json!({"username": "user1", "password": "password1"})),
            415,
            "unsupported_media_type",
        ),
        login(
            "login as text/plain",
            Some("text/plain"),
            b"username=user1".to_vec(),
            415,
            "unsupported_media_type",
        ),
        login(
            "login as xml",
            Some("application/xml"),
            b"<a/>".to_vec(),
            415,
            "unsupported_media_type",
        ),
        bad("truncated json", b"{\"username\":".to_vec()),
        bad("empty body", Vec::new()),
        bad("json array", b"[]".to_vec()),
        bad("json null", b"null".to_vec()),
        bad(
            "invalid utf-8",
            b"{\"username\":\"\xff\xfe\",\"password\":\"p\"}".to_vec(),
        ),
        bad(
            "missing username",
            login_json(json!({"password": "password1"})),
        ),
        bad("missing password", login_json(json!({"username": "user1"}))),
        bad(
            "username is a number",
            login_json(json!({"username": 1, "password": "p"})),
        ),
        bad(
            "password is an object",
            login_json(json!({"username": "user1", "password": {}})),
        ),
        bad(
            "device is a list",
            login_json(json!({"username": "user1", "password": "p", "device": []})),
        ),
        bad(
            "empty username",
            login_json(json!({"username": "", "password": "p"})),
        ),
        bad(
            "username over 64 chars",
            login_json(json!({"username": long, "password": "p"})),
        ),
        bad(
            "username with newline",
            login_json(json!({"username": "user\n1", "password": "p"})),
        ),
        bad(
            "username with NUL",
            login_json(json!({"username": "user\u{0}1", "password": "p"})),
        ),
        bad(
            "empty password",
            login_json(json!({"username": "user1", "password": ""})),
        ),
        bad(
            "password over 1024 bytes",
            login_json(json!({"username": "user1", "password": "é".repeat(513)})),
        ),
        bad(
            "password with NUL",
            login_json(json!({"username": "user1", "password": "pass\u{0}word1"})),
        ),
        bad(
            "device over 64 chars",
            login_json(json!({"username": "user1", "password": "p", "device": long})),
        ),
        bad(
            "device with control char",
            login_json(json!({"username": "user1", "password": "p", "device": "PC\u{7}"})),
        ),
        bad(
            "device with a bidi override",
            login_json(
                json!({"username": "user1", "password": "p", "device": "Chrome on \u{202E}2CP"}),
            ),
        ),
        login(
            "body over 16 KiB",
            json_ct,
            login_json(json!({"username": "user1", "password": "p", "pad": "x".repeat(17_000)})),
            413,
            "payload_too_large",
        ),
        login(
            "form missing password",
            form_ct,
            b"username=user1".to_vec(),
            400,
            "bad_request",
        ),
        login(
            "form with NUL password",
            form_ct,
            b"username=user1&password=a%00b".to_vec(),
            400,
            "bad_request",
        ),
        login(
            "form username over 64 chars",
            form_ct,
            format!("username={}&password=x", "u".repeat(65)).into_bytes(),
            400,
            "bad_request",
        ),
        login(
            "form field not UTF-8",
            form_ct,
            b"username=%FF&password=x".to_vec(),
            400,
            "bad_request",
        ),
        login(
            "form field given twice",
            form_ct,
            b"username=user1&username=user2&password=x".to_vec(),
            400,
            "bad_request",
        ),
        login(
            "form over 16 KiB",
            form_ct,
            format!("username=user1&password={}", "x".repeat(17_000)).into_bytes(),
            413,
            "payload_too_large",
        ),
    ];
    let plain = |name, method: Method, path: &str, auth, status, code| Case {
        name,
        method,
        path: path.to_owned(),
        content_type: None,
        auth,
        body: Vec::new(),
        status,
        code,
    };
    v.extend([
        plain(
            "login with GET",
            Method::GET,
            "/api/auth/login",
            Auth::None,
            405,
            "method_not_allowed",
        ),
        plain(
            "logout with GET",
            Method::GET,
            "/api/auth/logout",
            Auth::User,
            405,
            "method_not_allowed",
        ),
        plain(
            "sessions with PUT",
            Method::PUT,
            "/api/auth/sessions",
            Auth::User,
            405,
            "method_not_allowed",
        ),
        plain(
            "session without token",
            Method::GET,
            "/api/auth/session",
            Auth::None,
            401,
            "unauthorized",
        ),
        plain(
            "session with empty bearer",
            Method::GET,
            "/api/auth/session",
            Auth::Raw("Bearer "),
            401,
            "unauthorized",
        ),
        plain(
            "session with basic auth",
            Method::GET,
            "/api/auth/session",
            Auth::Raw("Basic dXNlcjE6cGFzc3dvcmQx"),
            401,
            "unauthorized",
        ),
        plain(
            "session with garbage token",
            Method::GET,
            "/api/auth/session",
            Auth::Raw("Bearer not-a-token"),
            401,
            "unauthorized",
        ),
        plain(
            "logout without token",
            Method::POST,
            "/api/auth/logout",
            Auth::None,
            401,
            "unauthorized",
        ),
        plain(
            "sessions list without token",
            Method::GET,
            "/api/auth/sessions",
            Auth::None,
            401,
            "unauthorized",
        ),
        plain(
            "revoke malformed id",
            Method::DELETE,
            "/api/auth/sessions/s_nothex",
            Auth::User,
            404,
            "not_found",
        ),
        plain(
            "revoke id with escapes",
            Method::DELETE,
            "/api/auth/sessions/%00%2F..",
            Auth::User,
            404,
            "not_found",
        ),
        plain(
            "revoke id not UTF-8",
            Method::DELETE,
            "/api/auth/sessions/%FF%FE",
            Auth::User,
            404,
            "not_found",
        ),
        plain(
            "revoke empty id",
            Method::DELETE,
            "/api/auth/sessions/",
            Auth::User,
            404,
            "not_found",
        ),
        plain(
            "revoke without token",
            Method::DELETE,
            "/api/auth/sessions/s_00000000000000000000000000000000",
            Auth::None,
            401,
            "unauthorized",
        ),
        plain(
            "admin list as user",
            Method::GET,
            "/api/admin/sessions",
            Auth::User,
            403,
            "forbidden",
        ),
        plain(
            "admin revoke as user",
            Method::DELETE,
            "/api/admin/users/user2/sessions",
            Auth::User,
            403,
            "forbidden",
        ),
        plain(
            "admin limit not a number",
            Method::GET,
            "/api/admin/sessions?limit=ten",
            Auth::Admin,
            400,
            "bad_request",
        ),
        plain(
            "admin limit zero",
            Method::GET,
            "/api/admin/sessions?limit=0",
            Auth::Admin,
            400,
            "bad_request",
        ),
        plain(
            "admin limit too big",
            Method::GET,
            "/api/admin/sessions?limit=1001",
            Auth::Admin,
            400,
            "bad_request",
        ),
        plain(
            "admin limit negative",
            Method::GET,
            "/api/admin/sessions?limit=-5",
            Auth::Admin,
            400,
            "bad_request",
        ),
        plain(
            "admin cursor garbage",
            Method::GET,
            "/api/admin/sessions?cursor=***",
            Auth::Admin,
            400,
            "bad_request",
        ),
        plain(
            "admin list with POST",
            Method::POST,
            "/api/admin/sessions",
            Auth::Admin,
            405,
            "method_not_allowed",
        ),
        plain(
            "unknown route",
            Method::GET,
            "/api/nope",
            Auth::None,
            404,
            "not_found",
        ),
        plain(
            "unknown deep route",
            Method::GET,
            "/a/b/c/d/e/f",
            Auth::None,
            404,
            "not_found",
        ),
        plain(
            "websocket without upgrade",
            Method::GET,
            "/ws",
            Auth::None,
            400,
            "bad_request",
        ),
        plain(
            "websocket with POST",
            Method::POST,
            "/ws",
            Auth::None,
            405,
            "method_not_allowed",
        ),
        plain(
            "readyz with DELETE",
            Method::DELETE,
            "/readyz",
            Auth::None,
            405,
            "method_not_allowed",
        ),
    ]);
    v
}

#[tokio::test]
async fn every_bad_http_request_gets_a_stable_4xx_and_nothing_is_lost() {
    let app = spawn_app(base_config()).await;
    let user = app.login_ok("user1", "PC1").await;
    let admin = app.login_ok("admin", "console").await;
    let mut ws = app.ws_authed(&user).await;

    for case in cases() {
        let mut req = app.http.request(case.method.clone(), app.url(&case.path));
        let header = match case.auth {
            Auth::None => None,
            Auth::User => Some(format!("Bearer {user}")),
            Auth::Admin => Some(format!("Bearer {admin}")),
            Auth::Raw(h) => Some(h.to_owned()),
        };
        if let Some(h) = header {
            req = req.header("authorization", h);
        }
        if let Some(ct) = case.content_type {
            req = req.header("content-type", ct);
        }
        let resp = tokio::time::timeout(WAIT, req.body(case.body).send())
            .await
            .unwrap_or_else(|_| panic!("{}: no answer in time", case.name))
            .expect("request sent");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let body: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{}: body is not JSON: {text:?}", case.name));
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (case.status, Some(case.code)),
            "{}: {text}",
            case.name
        );
        assert!(body["error"]["message"].is_string(), "{}", case.name);
    }

    // Nothing stored was lost: the session, its socket and the admin's session live on.
    let me = app.get("/api/auth/session", Some(&user)).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["device"], "PC1");
    assert_eq!(
        app.get("/api/admin/sessions", Some(&admin)).await.status,
        200
    );
    ws.send_json(json!({"type": "ping"})).await;
    assert_eq!(ws.next_json().await["type"], "pong");
}

#[tokio::test]
async fn every_bad_websocket_message_gets_its_close_code_or_error() {
    let app = spawn_app(base_config()).await;
    let user = app.login_ok("user1", "PC1").await;
    let mut keeper = app.ws_authed(&user).await;

    // Before auth: (what is sent, expected close code).
    let long_token = json!({"type": "auth", "token": "A".repeat(5000)}).to_string();
    let pre_auth: Vec<(Message, u16)> = vec![
        (Message::Text("hello".into()), 4003),
        (Message::Text("{}".into()), 4003),
        (Message::Text(r#"{"type":"ping"}"#.into()), 4003),
        (Message::Text(r#"{"type":"auth"}"#.into()), 4003),
        (
            Message::Text(r#"{"type":"auth","token":null}"#.into()),
            4003,
        ),
        (
            Message::Text(r#"{"type":"auth","token":["x"]}"#.into()),
            4003,
        ),
        (Message::Text(r#"{"type":"AUTH","token":"x"}"#.into()), 4003),
        (
            Message::Text(
                json!({"type": "auth", "token": format!("{user}x")})
                    .to_string()
                    .into(),
            ),
            4003,
        ),
        (Message::Text(long_token.into()), 1009),
        (Message::Binary(vec![0u8; 10].into()), 1003),
        (
            Message::Frame(Frame::message(
                vec![0xffu8, 0xfe, 0x41],
                OpCode::Data(Data::Text),
                true,
            )),
            1007,
        ),
    ];
    for (msg, code) in pre_auth {
        let mut ws = app.ws_raw().await;
        let shown = format!("{msg:?}");
        ws.stream.send(msg).await.unwrap();
        let closed = ws.expect_close().await;
        assert_eq!(
            closed.code,
            code,
            "{}: {closed:?}",
            &shown[..shown.len().min(80)]
        );
    }

    // After auth: malformed messages are answered, the socket stays.
    let mut ws = app.ws_authed(&user).await;
    for text in [
        "",
        "null",
        "{}",
        "[1,2]",
        r#"{"type":5}"#,
        r#"{"type":"ping","extra":{"deep":[1,2,3]}}"#,
        "\u{0}",
        r#"{"type":"force_logout"}"#,
    ] {
        ws.send_text(text).await;
        let reply = ws.next_json().await;
        let ok =
            reply == json!({"type": "error", "code": "bad_message"}) || reply["type"] == "pong";
        assert!(ok, "{text:?} -> {reply}");
    }

    // Nothing was lost.
    assert_eq!(app.get("/api/auth/session", Some(&user)).await.status, 200);
    for socket in [&mut ws, &mut keeper] {
        socket.send_json(json!({"type": "ping"})).await;
        assert_eq!(socket.next_json().await["type"], "pong");
    }
}

/// A client that never finishes its request headers is disconnected instead
/// of holding a descriptor forever.
#[tokio::test]
async fn stalled_request_headers_are_dropped() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app(base_config()).await;
    let mut stalled = tokio::net::TcpStream::connect(&app.addr).await.unwrap();
    stalled
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        stalled.read_to_end(&mut buf),
    )
    .await;
    assert!(read.is_ok(), "the server closed the stalled connection");
    assert_eq!(
        app.get("/healthz", None).await.status,
        200,
        "others are served meanwhile"
    );
}
