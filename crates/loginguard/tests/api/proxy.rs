//! Reverse proxies and cookie mode: `GET /api/auth/verify` with a bearer
//! token and with the cookie, the cookie's life (set, used, cleared), the
//! Origin rule for requests that change something by cookie alone, sockets
//! authenticated by the cookie, and a real nginx guarding a location with
//! `auth_request`.

use loginguard::config::Config;
use loginguard::domain::OnLimit;
use reqwest::header::{HeaderMap, COOKIE, ORIGIN, SET_COOKIE};
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};

use crate::backend::{create, created, keys, with_keys};
use crate::helpers::*;
use crate::nginx::{Nginx, PRIVATE_PAGE};

const APP_ORIGIN: &str = "https://app.example";
const EVIL_ORIGIN: &str = "https://evil.example";

/// `base_config` in cookie mode (cookie `lg`), the page at `APP_ORIGIN`
/// listed when `listed`.
fn cookie_config(listed: bool) -> Config {
    let mut c = base_config();
    c.http.cookie = Some("lg".to_owned());
    if listed {
        c.http.allowed_origins = vec![APP_ORIGIN.to_owned()];
    }
    c
}

/// A request's status, headers and body text.
struct Raw {
    status: u16,
    headers: HeaderMap,
    body: String,
}

/// `method path` with extra `headers` (no bearer token unless given there).
async fn send(app: &TestApp, method: reqwest::Method, path: &str, headers: &[(&str, &str)]) -> Raw {
    let mut req = app.http.request(method, app.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("sent");
    Raw {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.text().await.expect("body"),
    }
}

/// The status and error code of a refused request.
fn refusal(raw: &Raw) -> (u16, String) {
    let v: serde_json::Value = serde_json::from_str(&raw.body).expect("JSON error body");
    let code = v["error"]["code"].as_str().unwrap_or_default().to_owned();
    (raw.status, code)
}

/// `GET /api/auth/verify` with `header` (none when its name is empty).
async fn verify(app: &TestApp, header: (&str, &str)) -> Raw {
    let headers: &[(&str, &str)] = if header.0.is_empty() { &[] } else { &[header] };
    send(app, reqwest::Method::GET, "/api/auth/verify", headers).await
}

#[tokio::test]
async fn verify_answers_a_reverse_proxy_for_a_bearer_token() {
    let keys = keys();
    let app = spawn_app(with_keys(base_config(), &keys)).await;
    let token = app.login_ok("user1", "PC1").await;
    let bearer = format!("Bearer {token}");
    let ok = verify(&app, ("authorization", &bearer)).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body, "", "an empty body");
    assert_eq!(ok.headers["x-loginguard-user"], "user1");
    let sid = app.get("/api/auth/session", Some(&token)).await.body["session_id"].clone();
    assert_eq!(ok.headers["x-loginguard-session"], sid.as_str().unwrap());

    let none = verify(&app, ("", "")).await;
    assert_eq!(refusal(&none), (401, "unauthorized".to_owned()));
    app.login_ok("user1", "PC2").await;
    let kicked = verify(&app, ("authorization", &bearer)).await;
    assert_eq!(refusal(&kicked), (401, "session_revoked".to_owned()));

    let subject = create(&app, &keys.full, "사용자 1", "Shop").await;
    let other = format!("Bearer {}", created(&subject));
    let r = verify(&app, ("authorization", &other)).await;
    assert_eq!(
        r.headers["x-loginguard-user"],
        "%EC%82%AC%EC%9A%A9%EC%9E%90%201"
    );
}

#[tokio::test]
async fn cookie_mode_sets_uses_and_clears_the_cookie() {
    let app = spawn_app(cookie_config(false)).await;
    let login = app
        .http
        .post(app.url("/api/auth/login"))
        .json(&json!({"username": "user1", "password": "password1", "device": "PC1"}))
        .send()
        .await
        .unwrap();
    let set = login.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    let token = login.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        set,
        format!("lg={token}; Max-Age=43200; Path=/; HttpOnly; SameSite=Lax; Secure")
    );
    let cookie = format!("theme=dark; lg={token}");
    let by_cookie = verify(&app, ("cookie", &cookie)).await;
    assert_eq!(by_cookie.status, 200, "{}", by_cookie.body);
    assert_eq!(by_cookie.headers["x-loginguard-user"], "user1");
    let me = send(
        &app,
        reqwest::Method::GET,
        "/api/auth/session",
        &[("cookie", &cookie)],
    )
    .await;
    assert_eq!(me.status, 200, "{}", me.body);

    let own = format!("http://{}", app.addr);
    let out = send(
        &app,
        reqwest::Method::POST,
        "/api/auth/logout",
        &[("cookie", &cookie), ("origin", &own)],
    )
    .await;
    assert_eq!(out.status, 204, "{}", out.body);
    assert_eq!(
        out.headers[SET_COOKIE],
        "lg=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax; Secure"
    );
    let after = verify(&app, ("cookie", &cookie)).await;
    assert_eq!(refusal(&after), (401, "session_revoked".to_owned()));

    // A foreign page may not sign the browser into an account of its choice.
    let foreign = app
        .http
        .post(app.url("/api/auth/login"))
        .header(ORIGIN, EVIL_ORIGIN)
        .form(&[("username", "user2"), ("password", "password2")])
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 200);
    assert!(foreign.headers().get(SET_COOKIE).is_none());

    let mut insecure = cookie_config(false);
    insecure.http.cookie_insecure = true;
    let app = spawn_app(insecure).await;
    let r = app.login("user1", "password1", "PC").await;
    assert!(!r.headers[SET_COOKIE].to_str().unwrap().contains("Secure"));

    let plain = spawn_app(base_config()).await;
    let r = plain.login("user1", "password1", "PC").await;
    assert!(
        r.headers.get(SET_COOKIE).is_none(),
        "no cookie mode, no cookie"
    );
    let cookie = format!("lg={}", r.token());
    let ignored = verify(&plain, ("cookie", &cookie)).await;
    assert_eq!(ignored.status, 401);
}

/// The session id behind `token`.
async fn session_id(app: &TestApp, token: &str) -> String {
    let me = app.get("/api/auth/session", Some(token)).await;
    me.body["session_id"]
        .as_str()
        .expect("a session id")
        .to_owned()
}

#[tokio::test]
async fn deleting_ones_own_session_clears_the_cookie_like_sign_out() {
    let app = spawn_app(with_policy(cookie_config(false), 3, OnLimit::KickOldest)).await;
    let own = format!("http://{}", app.addr);
    let mine = app.login_ok("user1", "PC1").await;
    let other = session_id(&app, &app.login_ok("user1", "PC2").await).await;
    let cookie = format!("lg={mine}");
    let by_cookie = [("cookie", cookie.as_str()), ("origin", own.as_str())];
    let path_of = |id: String| format!("/api/auth/sessions/{id}");

    // Another session of the account: the caller's cookie stays.
    let r = send(&app, reqwest::Method::DELETE, &path_of(other), &by_cookie).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(r.headers.get(SET_COOKIE).is_none(), "{:?}", r.headers);
    assert_eq!(verify(&app, ("cookie", &cookie)).await.status, 200);

    let path = path_of(session_id(&app, &mine).await);
    let r = send(&app, reqwest::Method::DELETE, &path, &by_cookie).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        r.headers[SET_COOKIE],
        "lg=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax; Secure"
    );
    let after = verify(&app, ("cookie", &cookie)).await;
    assert_eq!(refusal(&after), (401, "session_revoked".to_owned()));

    // By bearer token too, as sign-out does: the browser may hold the cookie anyway.
    let token = app.login_ok("user1", "PC3").await;
    let path = path_of(session_id(&app, &token).await);
    let bearer = format!("Bearer {token}");
    let r = send(
        &app,
        reqwest::Method::DELETE,
        &path,
        &[("authorization", &bearer)],
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        r.headers[SET_COOKIE],
        "lg=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax; Secure"
    );

    // Without cookie mode nothing is set.
    let plain = spawn_app(base_config()).await;
    let token = plain.login_ok("user1", "PC1").await;
    let path = path_of(session_id(&plain, &token).await);
    let r = send(
        &plain,
        reqwest::Method::DELETE,
        &path,
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(r.headers.get(SET_COOKIE).is_none(), "{:?}", r.headers);
}

/// `POST /api/auth/logout` with only `cookie` and `origin`: its status.
async fn logout_by_cookie(app: &TestApp, cookie: &str, origin: Option<&str>) -> u16 {
    let mut headers = vec![("cookie", cookie)];
    headers.extend(origin.map(|o| ("origin", o)));
    send(app, reqwest::Method::POST, "/api/auth/logout", &headers)
        .await
        .status
}

#[tokio::test]
async fn a_change_by_cookie_alone_needs_a_trusted_origin() {
    let app = spawn_app(cookie_config(true)).await;
    let own = format!("http://{}", app.addr);
    let token = app.login_ok("user1", "PC1").await;
    let cookie = format!("lg={token}");
    assert_eq!(
        logout_by_cookie(&app, &cookie, None).await,
        403,
        "no Origin"
    );
    assert_eq!(
        logout_by_cookie(&app, &cookie, Some(EVIL_ORIGIN)).await,
        403
    );
    assert_eq!(logout_by_cookie(&app, &cookie, Some("null")).await, 403);
    let sid = app.get("/api/auth/session", Some(&token)).await.body["session_id"].clone();
    let revoke = send(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/auth/sessions/{}", sid.as_str().unwrap()),
        &[("cookie", &cookie), ("origin", EVIL_ORIGIN)],
    )
    .await;
    assert_eq!(refusal(&revoke), (403, "forbidden".to_owned()));
    let read = send(
        &app,
        reqwest::Method::GET,
        "/api/auth/sessions",
        &[("cookie", &cookie), ("origin", EVIL_ORIGIN)],
    )
    .await;
    assert_eq!(read.status, 200, "reading is not a change");
    assert_eq!(
        app.get("/api/auth/session", Some(&token)).await.status,
        200,
        "still live"
    );

    // A listed origin, then the server's own.
    assert_eq!(logout_by_cookie(&app, &cookie, Some(APP_ORIGIN)).await, 204);
    let cookie = format!("lg={}", app.login_ok("user1", "PC1").await);
    assert_eq!(logout_by_cookie(&app, &cookie, Some(&own)).await, 204);

    // A bearer token is not sent by browsers on their own: no Origin rule.
    let token = app.login_ok("user1", "PC1").await;
    let bearer = format!("Bearer {token}");
    let r = send(
        &app,
        reqwest::Method::POST,
        "/api/auth/logout",
        &[("authorization", &bearer), ("origin", EVIL_ORIGIN)],
    )
    .await;
    assert_eq!(r.status, 204);
}

/// A WebSocket to `app` whose upgrade carries `headers`; `Err` with the
/// HTTP status when the upgrade is refused.
async fn ws_with(app: &TestApp, headers: &[(&'static str, &str)]) -> Result<Ws, u16> {
    let mut req = format!("ws://{}/ws", app.addr)
        .into_client_request()
        .unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(
            HeaderName::from_static(k),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((stream, _)) => Ok(Ws { stream }),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("websocket failed: {e}"),
    }
}

#[tokio::test]
async fn a_socket_authenticates_by_cookie_only_from_a_listed_origin() {
    let app = spawn_app(cookie_config(true)).await;
    let token = app.login_ok("user1", "PC1").await;
    let cookie = format!("lg={token}");
    let by_cookie = json!({"type": "auth", "cookie": true});

    let mut ws = ws_with(&app, &[("cookie", &cookie), ("origin", APP_ORIGIN)])
        .await
        .unwrap();
    ws.send_json(by_cookie.clone()).await;
    let ok = ws.next_json().await;
    assert_eq!(ok["type"], "auth_ok", "{ok}");
    assert_eq!(ok["username"], "user1");

    let mut no_origin = ws_with(&app, &[("cookie", &cookie)]).await.unwrap();
    no_origin.send_json(by_cookie.clone()).await;
    no_origin.expect_close_code(4003).await;
    let mut no_cookie = ws_with(&app, &[("origin", APP_ORIGIN)]).await.unwrap();
    no_cookie.send_json(by_cookie.clone()).await;
    no_cookie.expect_close_code(4003).await;
    let both = json!({"type": "auth", "cookie": true, "token": token});
    let mut ambiguous = ws_with(&app, &[("cookie", &cookie), ("origin", APP_ORIGIN)])
        .await
        .unwrap();
    ambiguous.send_json(both).await;
    ambiguous.expect_close_code(4003).await;
    assert_eq!(
        ws_with(&app, &[("cookie", &cookie), ("origin", EVIL_ORIGIN)])
            .await
            .err(),
        Some(403)
    );

    app.login_ok("user1", "PC2").await;
    ws.expect_force_logout("duplicate_login").await;

    // Without an allow-list any page may open a socket: the cookie is not used.
    let open = spawn_app(cookie_config(false)).await;
    let token = open.login_ok("user1", "PC1").await;
    let cookie = format!("lg={token}");
    let mut ws = ws_with(&open, &[("cookie", &cookie), ("origin", APP_ORIGIN)])
        .await
        .unwrap();
    ws.send_json(by_cookie).await;
    ws.expect_close_code(4003).await;
}

#[tokio::test]
async fn nginx_auth_request_guards_a_location_until_the_session_is_kicked() {
    let app = spawn_app(cookie_config(false)).await;
    let nginx = Nginx::start(&app.addr);
    let private = nginx.url("/private/");
    let fetch = |headers: Vec<(&'static str, String)>| {
        let (http, url) = (app.http.clone(), private.clone());
        async move {
            let mut req = http.get(url);
            for (k, v) in headers {
                req = req.header(k, v);
            }
            let resp = req.send().await.expect("nginx answers");
            let status = resp.status().as_u16();
            let user = resp
                .headers()
                .get("x-user")
                .map(|v| v.to_str().unwrap().to_owned());
            (status, user, resp.text().await.unwrap())
        }
    };
    assert_eq!(fetch(vec![]).await.0, 401, "no token");
    let token = app.login_ok("user1", "PC1").await;
    let (status, user, body) = fetch(vec![("authorization", format!("Bearer {token}"))]).await;
    assert_eq!((status, body.as_str()), (200, PRIVATE_PAGE));
    assert_eq!(user.as_deref(), Some("user1"));
    let (status, _, body) = fetch(vec![(COOKIE.as_str(), format!("lg={token}"))]).await;
    assert_eq!((status, body.as_str()), (200, PRIVATE_PAGE), "by cookie");

    let fresh = app.login_ok("user1", "PC2").await;
    assert_eq!(
        fetch(vec![("authorization", format!("Bearer {token}"))])
            .await
            .0,
        401,
        "the kicked session's token"
    );
    assert_eq!(
        fetch(vec![(COOKIE.as_str(), format!("lg={token}"))])
            .await
            .0,
        401
    );
    assert_eq!(
        fetch(vec![("authorization", format!("Bearer {fresh}"))])
            .await
            .0,
        200
    );
}
