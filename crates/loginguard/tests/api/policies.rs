//! Black-box tests of PROTOCOL.md Part 2's sign-in fields and policies over
//! HTTP and WebSocket: `device_class` and `device_id` on sign-in, the class
//! in every session view, same-device replace, class limits (flag, users
//! file, several instances).

use loginguard::domain::{ClassLimits, Clock, OnLimit};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::instances::{instances, PASSWORD};
use crate::process::cheap_hash;
use crate::redis_server::RedisServer;

/// Signs user1 in with `extra` fields merged into the body.
async fn login_with(app: &TestApp, device: &str, extra: Value) -> Reply {
    let mut body = json!({"username": "user1", "password": "password1", "device": device});
    for (k, v) in extra.as_object().expect("an object") {
        body[k] = v.clone();
    }
    app.request(Method::POST, "/api/auth/login", None, Some(body))
        .await
}

/// Asserts that `app`'s `/metrics` has the sample `line`.
async fn has_metric(app: &TestApp, line: &str) {
    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains(line), "{line} in\n{text}");
}

/// No `device_id` in any JSON the server sends back.
fn never_shows_device_id(v: &Value) {
    let text = v.to_string();
    assert!(!text.contains("device_id"), "{text}");
    assert!(!text.contains("tab-one-id"), "{text}");
}

#[tokio::test]
async fn device_class_and_device_id_are_taken_from_json_and_form() {
    let app = spawn_app(with_policy(base_config(), 3, OnLimit::KickOldest)).await;
    let r = login_with(
        &app,
        "PC",
        json!({"device_class": "tv_box-2", "device_id": "tab-one-id"}),
    )
    .await;
    let token = r.token();
    assert_eq!(r.body["session"]["device_class"], "tv_box-2");
    assert_eq!(r.body["session"]["session_id"], r.body["session_id"]);
    assert_eq!(r.body["session"]["device"], "PC");
    never_shows_device_id(&r.body);

    let form = app
        .http
        .post(app.url("/api/auth/login"))
        .header(
            "user-agent",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Mobile/15E148",
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body("username=user1&password=password1&device=Phone&device_id=phone-id-1&device_class=")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
    let form: Value = form.json().await.unwrap();
    assert_eq!(
        form["session"]["device_class"], "mobile",
        "a blank class is derived from the User-Agent"
    );

    let own = app.sessions(&token).await;
    let mut classes: Vec<&str> = own
        .iter()
        .map(|s| s["device_class"].as_str().unwrap())
        .collect();
    classes.sort();
    assert_eq!(classes, ["mobile", "tv_box-2"]);
    never_shows_device_id(&Value::Array(own));

    let admin = app.login_ok("admin", "Admin PC").await;
    let list = app.get("/api/admin/sessions", Some(&admin)).await;
    let user1: Vec<&Value> = list.body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["username"] == "user1")
        .collect();
    assert_eq!(user1.len(), 2);
    assert!(user1.iter().all(|s| s["device_class"].is_string()));
    never_shows_device_id(&list.body);
}

#[tokio::test]
async fn bad_device_class_or_device_id_is_bad_request() {
    let app = spawn_app(base_config()).await;
    for extra in [
        json!({"device_class": "Web"}),
        json!({"device_class": "a".repeat(33)}),
        json!({"device_class": 7}),
        json!({"device_id": "short"}),
        json!({"device_id": "has space in it"}),
        json!({"device_id": "x".repeat(65)}),
    ] {
        let r = login_with(&app, "PC", extra.clone()).await;
        r.error(400, "bad_request");
    }
}

#[tokio::test]
async fn the_409_lists_each_sessions_class() {
    let app = spawn_app(with_policy(base_config(), 1, OnLimit::DenyNew)).await;
    login_with(&app, "PC1", json!({"device_class": "web"}))
        .await
        .token();
    let r = login_with(&app, "PC2", json!({})).await;
    let e = r.error(409, "session_limit_reached");
    assert_eq!(e["active_sessions"][0]["device_class"], "web");
    never_shows_device_id(&r.body);
}

/// A browser signing in again (another tab) replaces its own session: the
/// old tab is told `replaced` with the new one as `by`, the other device is
/// left alone, and under `deny_new` at the limit it is still admitted.
async fn same_browser_replaces_itself(app: &TestApp) {
    let phone = login_with(app, "Phone", json!({"device_id": "phone-id-1"}))
        .await
        .token();
    let mut phone_ws = app.ws_authed(&phone).await;
    let tab1 = login_with(app, "Tab 1", json!({"device_id": "tab-one-id"}))
        .await
        .token();
    let mut tab1_ws = app.ws_authed(&tab1).await;

    let r = login_with(app, "Tab 2", json!({"device_id": "tab-one-id"})).await;
    let tab2 = r.token();
    let revoked = r.body["revoked_sessions"].as_array().unwrap();
    assert_eq!(revoked.len(), 1, "{}", r.body);
    assert_eq!(revoked[0]["device"], "Tab 1");

    let kick = tab1_ws.expect_force_logout("replaced").await;
    assert_eq!(kick["by"]["device"], "Tab 2");
    let e = app.get("/api/auth/session", Some(&tab1)).await;
    let e = e.error(401, "session_revoked");
    assert_eq!(e["reason"], "replaced");
    assert_eq!(e["by"]["device"], "Tab 2");

    let mine = app.sessions(&tab2).await;
    let mut devices: Vec<&str> = mine.iter().map(|s| s["device"].as_str().unwrap()).collect();
    devices.sort();
    assert_eq!(devices, ["Phone", "Tab 2"]);
    // The phone's socket is still open and answers.
    phone_ws.send_json(json!({"type": "ping"})).await;
    assert_eq!(phone_ws.next_event().await["type"], "pong");

    let other = login_with(app, "Laptop", json!({"device_id": "laptop-id-1"})).await;
    other.error(409, "session_limit_reached");
    has_metric(
        app,
        "loginguard_sign_in_policy_total{outcome=\"replaced\"} 1",
    )
    .await;
    has_metric(app, "loginguard_sign_in_policy_total{outcome=\"denied\"} 1").await;
}

#[tokio::test]
async fn same_browser_replaces_itself_memory() {
    let app = spawn_app(with_policy(base_config(), 2, OnLimit::DenyNew)).await;
    same_browser_replaces_itself(&app).await;
}

#[tokio::test]
async fn same_browser_replaces_itself_redis() {
    let redis = RedisServer::start();
    let app = spawn_app(with_policy(redis_config(&redis), 2, OnLimit::DenyNew)).await;
    same_browser_replaces_itself(&app).await;
}

/// A storm of 60 sign-ins of two classes spread over three instances on one
/// Redis, under `--class-limits web=1,mobile=1` within a total of 3: exactly
/// one web and one mobile session survive, every other token is refused on
/// every instance.
#[tokio::test]
async fn class_limits_hold_across_three_instances() {
    let redis = RedisServer::start();
    let mut config = with_policy(redis_config(&redis), 3, OnLimit::KickOldest);
    config.session.class_limits = ClassLimits::parse("web=1,mobile=1").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let apps = instances(config, 3, &["storm".to_owned()], &dir).await;
    let mut tasks = Vec::new();
    for i in 0..60 {
        let app = &apps[i % apps.len()];
        let (http, url) = (app.http.clone(), app.url("/api/auth/login"));
        tasks.push(tokio::spawn(async move {
            let class = if i % 2 == 0 { "web" } else { "mobile" };
            let body = json!({"username": "storm", "password": PASSWORD,
                              "device": format!("dev{i}"), "device_class": class});
            let r = http.post(url).json(&body).send().await.unwrap();
            assert_eq!(r.status(), 200);
            let body: Value = r.json().await.unwrap();
            (class, body["token"].as_str().unwrap().to_owned())
        }));
    }
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(t.await.unwrap());
    }
    let mut alive = Vec::new();
    for (i, (class, token)) in tokens.iter().enumerate() {
        let r = apps[(i + 1) % 3]
            .get("/api/auth/session", Some(token))
            .await;
        match r.status {
            200 => alive.push(*class),
            _ => assert_eq!(r.error(401, "session_revoked")["reason"], "duplicate_login"),
        }
    }
    alive.sort();
    assert_eq!(alive, ["mobile", "web"]);
}

/// A users-file entry's `class_limits` beats `--class-limits` for that account.
#[tokio::test]
async fn users_file_class_limits_override_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let hash = cheap_hash(PASSWORD);
    let file = dir.path().join("users.toml");
    std::fs::write(
        &file,
        format!(
            "[[users]]\nusername = \"strict\"\npassword_hash = {hash:?}\non_limit = \"deny_new\"\nclass_limits = {{ web = 1 }}\n\n\
             [[users]]\nusername = \"loose\"\npassword_hash = {hash:?}\non_limit = \"deny_new\"\n"
        ),
    )
    .unwrap();
    let mut config = with_policy(base_config(), 5, OnLimit::DenyNew);
    config.session.class_limits = ClassLimits::parse("web=2").unwrap();
    config.accounts.users = Some(file);
    let app = spawn_app(config).await;
    let sign_in = |user: &'static str, device: &'static str| {
        let body = json!({"username": user, "password": PASSWORD, "device": device, "device_class": "web"});
        app.request(Method::POST, "/api/auth/login", None, Some(body))
    };
    sign_in("strict", "W1").await.token();
    sign_in("strict", "W2")
        .await
        .error(409, "session_limit_reached");
    sign_in("loose", "W1").await.token();
    sign_in("loose", "W2").await.token();
    sign_in("loose", "W3")
        .await
        .error(409, "session_limit_reached");
}

#[tokio::test]
async fn kick_oldest_is_counted_by_policy_outcome() {
    let app = spawn_app(base_config()).await;
    login_with(&app, "PC1", json!({})).await.token();
    login_with(&app, "PC2", json!({})).await.token();
    has_metric(
        &app,
        "loginguard_sign_in_policy_total{outcome=\"admitted\"} 1",
    )
    .await;
    has_metric(
        &app,
        "loginguard_sign_in_policy_total{outcome=\"kicked_oldest\"} 1",
    )
    .await;
}

/// Pings `ws` until the admin list shows session `id` last used at `at` or
/// later: socket traffic alone moved its `last_seen_at`. Each round moves
/// the clock by 1 ms, so the admin list's cache (keyed by the clock) is
/// read afresh.
async fn ping_until_seen(app: &TestApp, ws: &mut Ws, admin: &str, id: &Value, at: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        ws.send_json(json!({"type": "ping"})).await;
        assert_eq!(ws.next_event().await["type"], "pong");
        app.clock.advance(std::time::Duration::from_millis(1));
        let list = app.get("/api/admin/sessions", Some(admin)).await;
        // RFC 3339 UTC with milliseconds: text order is time order.
        let seen =
            list.body["sessions"].as_array().unwrap().iter().any(|s| {
                &s["session_id"] == id && s["last_seen_at"].as_str().is_some_and(|l| l >= at)
            });
        if seen {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "socket traffic never touched the session: {}",
            list.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// `deny_new` with the default `--stale-after` (10 min): a page that keeps
/// its socket and pings is never stale, however long it stays; once it goes
/// quiet for 10 minutes, a new sign-in signs it out to make room.
#[tokio::test]
async fn a_pinging_page_is_never_stale_and_a_quiet_one_gives_way() {
    let mut config = with_policy(base_config(), 1, OnLimit::DenyNew);
    config.session.touch_interval = std::time::Duration::from_millis(50);
    config.admin.cache_ttl = std::time::Duration::from_millis(1);
    let app = spawn_app(config).await;
    let admin = app.login_ok("admin", "Admin PC").await;
    let first = login_with(&app, "Kept tab", json!({})).await;
    let (token, id) = (first.token(), first.body["session_id"].clone());
    let mut tab = app.ws_authed(&token).await;
    for _ in 0..12 {
        app.clock.advance(std::time::Duration::from_secs(60));
        let now = app.clock.now().to_rfc3339();
        ping_until_seen(&app, &mut tab, &admin, &id, &now).await;
    }
    let refused = login_with(&app, "Other PC", json!({})).await;
    refused.error(409, "session_limit_reached");
    assert_eq!(tab.next_event().await["type"], "login_blocked");

    // Quiet for the whole stale age: the next sign-in takes the place.
    app.clock.advance(std::time::Duration::from_secs(600));
    let r = login_with(&app, "Other PC", json!({})).await;
    r.token();
    assert_eq!(r.body["revoked_sessions"][0]["session_id"], id);
    let kick = tab.expect_force_logout("duplicate_login").await;
    assert_eq!(kick["by"]["device"], "Other PC");
    has_metric(
        &app,
        "loginguard_sign_in_policy_total{outcome=\"evicted_stale\"} 1",
    )
    .await;
}

/// `POST /api/auth/login/evict` with `ticket` and `session_id`.
async fn evict(app: &TestApp, ticket: &str, session_id: Value) -> Reply {
    let body = json!({"ticket": ticket, "session_id": session_id});
    app.request(Method::POST, "/api/auth/login/evict", None, Some(body))
        .await
}

/// `on_limit = ask` over two instances on one Redis: the 409 offers the
/// sessions in the way and a ticket; the ticket works on the other
/// instance, once; the chosen device is told who took its place.
#[tokio::test]
async fn ask_offers_a_ticket_that_signs_the_chosen_device_out() {
    let redis = RedisServer::start();
    let clock = std::sync::Arc::new(loginguard::domain::ManualClock::new());
    let config = with_policy(redis_config(&redis), 2, OnLimit::Ask);
    let one = spawn_app_with_clock(config.clone(), clock.clone()).await;
    let two = spawn_app_with_clock(config, clock).await;
    let laptop = login_with(&one, "Laptop", json!({"device_class": "web"})).await;
    let mut laptop_ws = one.ws_authed(&laptop.token()).await;
    let phone = login_with(&one, "Phone", json!({"device_class": "mobile"})).await;
    phone.token();

    let r = login_with(&one, "New PC", json!({"device_id": "new-pc-id-1"})).await;
    let e = r.error(409, "session_limit_reached");
    let offered: Vec<&str> = e["active_sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["device"].as_str().unwrap())
        .collect();
    assert_eq!(offered.len(), 2);
    assert!(e["active_sessions"][0]["device_class"].is_string());
    assert!(e["ticket_expires_at"].as_str().unwrap().ends_with('Z'));
    let ticket = e["eviction_ticket"].as_str().unwrap().to_owned();
    assert_eq!(laptop_ws.next_event().await["type"], "login_blocked");

    evict(&two, &ticket, json!("s_00000000000000000000000000000000"))
        .await
        .error(404, "not_found");
    let won = evict(&two, &ticket, laptop.body["session_id"].clone()).await;
    let token = won.token();
    assert_eq!(won.body["session"]["device"], "New PC");
    assert_eq!(won.body["revoked_sessions"][0]["device"], "Laptop");
    let kick = laptop_ws.expect_force_logout("duplicate_login").await;
    assert_eq!(kick["by"]["device"], "New PC");
    assert_eq!(two.get("/api/auth/session", Some(&token)).await.status, 200);

    evict(&one, &ticket, phone.body["session_id"].clone())
        .await
        .error(400, "invalid_ticket");
    evict(&one, &ticket, json!("s_00000000000000000000000000000000"))
        .await
        .error(400, "invalid_ticket");
    let body = json!({"ticket": "nonsense", "session_id": phone.body["session_id"]});
    one.request(Method::POST, "/api/auth/login/evict", None, Some(body))
        .await
        .error(400, "invalid_ticket");
    let body = json!({"ticket": 7});
    one.request(Method::POST, "/api/auth/login/evict", None, Some(body))
        .await
        .error(400, "bad_request");

    let metrics = |app: &TestApp| {
        let url = app.url("/metrics");
        let http = app.http.clone();
        async move { http.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let on_one = metrics(&one).await;
    for line in [
        "loginguard_sign_in_policy_total{outcome=\"admitted\"} 2",
        "loginguard_sign_in_policy_total{outcome=\"asked\"} 1",
        "loginguard_eviction_tickets_total{event=\"issued\"} 1",
    ] {
        assert!(on_one.contains(line), "{line} in\n{on_one}");
    }
    let on_two = metrics(&two).await;
    for line in [
        "loginguard_eviction_tickets_total{event=\"redeemed\"} 1",
        // A redemption is a sign-in of its own origin, bad tickets included.
        "loginguard_sign_ins_total{origin=\"ticket\",result=\"ok\"} 1",
        "loginguard_sign_ins_total{origin=\"ticket\",result=\"error\"} 1",
    ] {
        assert!(on_two.contains(line), "{line} in\n{on_two}");
    }
    assert!(
        on_one.contains("loginguard_sign_ins_total{origin=\"ticket\",result=\"invalid_ticket\"} 2"),
        "{on_one}"
    );
}
