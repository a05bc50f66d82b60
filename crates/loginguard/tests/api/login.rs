//! Sign-in, the seed's PC1/PC2 scenario, own sessions, admin, two instances.

use std::time::Duration;

use loginguard::domain::OnLimit;
use serde_json::json;

use crate::helpers::*;
use crate::redis_server::RedisServer;

/// The seed's story: PC1 is signed in with a socket open; PC2 signs in as the
/// same account; PC1 is told why at once, its token dies, and coming back
/// with the old token it learns why again.
async fn pc1_pc2(app: &TestApp) {
    let t1 = app.login_ok("user1", "Chrome on PC1").await;
    let mut pc1 = app.ws_authed(&t1).await;

    let r2 = app.login("user1", "password1", "Chrome on PC2").await;
    let t2 = r2.token();
    let revoked = r2.body["revoked_sessions"].as_array().unwrap();
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0]["device"], "Chrome on PC1");

    let kick = pc1.expect_force_logout("duplicate_login").await;
    assert_eq!(kick["by"]["device"], "Chrome on PC2");
    assert_eq!(kick["by"]["ip"], "127.0.0.1");
    assert_eq!(kick["session_id"], revoked[0]["session_id"]);

    let err = app.get("/api/auth/session", Some(&t1)).await;
    let e = err.error(401, "session_revoked");
    assert_eq!(e["reason"], "duplicate_login");
    assert_eq!(e["by"]["device"], "Chrome on PC2");
    assert!(e["revoked_at"].as_str().unwrap().ends_with('Z'));

    let mut again = app.ws_raw().await;
    again.send_json(json!({"type": "auth", "token": t1})).await;
    let told = again.expect_force_logout("duplicate_login").await;
    assert_eq!(told["by"]["device"], "Chrome on PC2");

    let me = app.get("/api/auth/session", Some(&t2)).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["device"], "Chrome on PC2");
    assert_eq!(app.sessions(&t2).await.len(), 1);
}

#[tokio::test]
async fn pc1_is_kicked_when_pc2_signs_in_memory() {
    let app = spawn_app(base_config()).await;
    pc1_pc2(&app).await;
}

#[tokio::test]
async fn pc1_is_kicked_when_pc2_signs_in_redis() {
    let redis = RedisServer::start();
    let app = spawn_app(redis_config(&redis)).await;
    pc1_pc2(&app).await;
}

#[tokio::test]
async fn sign_in_response_has_the_protocol_shape_and_form_encoding_works() {
    let app = spawn_app(base_config()).await;
    let r = app
        .http
        .post(app.url("/api/auth/login"))
        .header("user-agent", "Mozilla/5.0 (Windows NT 10.0) Firefox/120.0")
        .form(&[("username", "user2"), ("password", "password2")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["session_id"].as_str().unwrap().starts_with("s_"));
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(
        body["user"],
        json!({"username": "user2", "name": "User Two", "is_admin": false})
    );
    assert_eq!(body["revoked_sessions"], json!([]));
    for field in ["created_at", "expires_at"] {
        let t = body[field].as_str().unwrap();
        assert!(t.len() == 24 && t.ends_with('Z'), "{field}: {t}");
    }
    let me = app.get("/api/auth/session", body["token"].as_str()).await;
    assert_eq!(
        me.body["device"], "Firefox on Windows",
        "device derived from the User-Agent"
    );

    // Media types are case-insensitive; so is the `Bearer` scheme.
    let upper = app
        .http
        .post(app.url("/api/auth/login"))
        .header(
            "content-type",
            "APPLICATION/X-WWW-FORM-URLENCODED; charset=UTF-8",
        )
        .body("username=user2&password=password2&device=caps")
        .send()
        .await
        .unwrap();
    assert_eq!(upper.status(), 200);
    let token: serde_json::Value = upper.json().await.unwrap();
    let lower = app
        .http
        .get(app.url("/api/auth/session"))
        .header(
            "authorization",
            format!("bearer {}", token["token"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(lower.status(), 200);
}

#[tokio::test]
async fn wrong_password_and_unknown_user_answer_alike() {
    let app = spawn_app(base_config()).await;
    let a = app.login("user1", "nope", "x").await;
    let b = app.login("nobody", "nope", "x").await;
    a.error(401, "invalid_credentials");
    b.error(401, "invalid_credentials");
    assert_eq!(a.body, b.body);
}

#[tokio::test]
async fn failed_sign_ins_are_rate_limited_per_account_and_success_is_not() {
    let mut config = base_config();
    config.limits.rate_limit_account = 3;
    let app = spawn_app(config).await;
    for _ in 0..5 {
        app.login_ok("user2", "fine").await;
    }
    for _ in 0..3 {
        app.login("user1", "wrong", "x")
            .await
            .error(401, "invalid_credentials");
    }
    let limited = app.login("user1", "password1", "x").await;
    limited.error(429, "rate_limited");
    assert!((1..=60).contains(&limited.retry_after()));
    app.login_ok("user2", "other account unaffected").await;
}

#[tokio::test]
async fn logout_kicks_the_sessions_other_sockets_and_kills_the_token() {
    let app = spawn_app(base_config()).await;
    let t = app.login_ok("user1", "PC1").await;
    let mut ws = app.ws_authed(&t).await;
    assert_eq!(app.logout(&t).await.status, 204);
    let msg = ws.expect_force_logout("logout").await;
    assert!(msg["by"].is_null());
    app.get("/api/auth/session", Some(&t))
        .await
        .error(401, "session_revoked");
    app.logout(&t).await.error(401, "session_revoked");
}

#[tokio::test]
async fn own_sessions_list_and_revoke() {
    let app = spawn_app(with_policy(base_config(), 3, OnLimit::KickOldest)).await;
    let a = app.login_ok("user1", "A").await;
    let b = app.login_ok("user1", "B").await;
    let other = app.login_ok("user2", "X").await;
    let _wa = app.ws_authed(&a).await;
    let mut wb = app.ws_authed(&b).await;
    let _wb2 = app.ws_authed(&b).await;

    let list = app.sessions(&a).await;
    assert_eq!(list.len(), 2);
    let mine = list.iter().find(|s| s["current"] == true).unwrap();
    assert_eq!(mine["device"], "A");
    assert_eq!(mine["connections"], 1);
    let b_entry = list.iter().find(|s| s["device"] == "B").unwrap();
    assert_eq!(b_entry["connections"], 2);
    assert!(b_entry.get("token").is_none());

    let b_id = b_entry["session_id"].as_str().unwrap().to_owned();
    let other_id = app.get("/api/auth/session", Some(&other)).await.body["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.delete(&format!("/api/auth/sessions/{other_id}"), Some(&a))
        .await
        .error(404, "not_found");
    app.delete("/api/auth/sessions/s_nothex", Some(&a))
        .await
        .error(404, "not_found");
    app.delete(
        "/api/auth/sessions/s_00000000000000000000000000000000",
        Some(&a),
    )
    .await
    .error(404, "not_found");

    assert_eq!(
        app.delete(&format!("/api/auth/sessions/{b_id}"), Some(&a))
            .await
            .status,
        204
    );
    let kick = wb.expect_force_logout("revoked_by_user").await;
    assert_eq!(kick["by"]["device"], "A");
    // The same revocation in the same millisecond is one request (a re-send
    // after a lost reply) and answers alike; a later one finds it ended.
    app.clock.advance(Duration::from_millis(1));
    app.delete(&format!("/api/auth/sessions/{b_id}"), Some(&a))
        .await
        .error(404, "not_found");
    assert_eq!(
        app.get("/api/auth/session", Some(&other)).await.status,
        200,
        "other account untouched"
    );

    let a_id = mine["session_id"].as_str().unwrap();
    assert_eq!(
        app.delete(&format!("/api/auth/sessions/{a_id}"), Some(&a))
            .await
            .status,
        204
    );
    let gone = app.get("/api/auth/session", Some(&a)).await;
    assert_eq!(
        gone.error(401, "session_revoked")["reason"],
        "logout",
        "own id works like logout"
    );
}

#[tokio::test]
async fn deny_new_refuses_with_409_and_warns_the_live_session() {
    let app = spawn_app(with_policy(base_config(), 1, OnLimit::DenyNew)).await;
    let t1 = app.login_ok("user1", "PC1").await;
    let mut ws = app.ws_authed(&t1).await;
    let refused = app.login("user1", "password1", "PC2").await;
    let e = refused.error(409, "session_limit_reached");
    let active = e["active_sessions"].as_array().unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0]["device"], "PC1");
    assert!(active[0].get("token").is_none());
    let blocked = ws.next_event().await;
    assert_eq!(blocked["type"], "login_blocked");
    assert_eq!(blocked["by"]["device"], "PC2");
    // A wrong password is not announced.
    app.login("user1", "wrong", "PC3")
        .await
        .error(401, "invalid_credentials");
    ws.send_json(json!({"type": "ping"})).await;
    assert_eq!(ws.next_event().await["type"], "pong");
    assert_eq!(app.get("/api/auth/session", Some(&t1)).await.status, 200);
}

#[tokio::test]
async fn admin_lists_pages_and_signs_out_an_account() {
    let app = spawn_app(with_policy(base_config(), 5, OnLimit::KickOldest)).await;
    let admin = app.login_ok("admin", "console").await;
    let u1 = app.login_ok("user1", "U1a").await;
    app.login_ok("user1", "U1b").await;
    app.login_ok("user2", "U2").await;
    let mut ws = app.ws_authed(&u1).await;

    app.get("/api/admin/sessions", Some(&u1))
        .await
        .error(403, "forbidden");
    app.get("/api/admin/sessions", None)
        .await
        .error(401, "unauthorized");
    for bad in ["0", "1001", "x", "-1"] {
        app.get(&format!("/api/admin/sessions?limit={bad}"), Some(&admin))
            .await
            .error(400, "bad_request");
    }
    app.get("/api/admin/sessions?cursor=%%%", Some(&admin))
        .await
        .error(400, "bad_request");

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/admin/sessions?limit=2&cursor={c}"),
            None => "/api/admin/sessions?limit=2".to_owned(),
        };
        let page = app.get(&path, Some(&admin)).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert_eq!(page.body["count"], 4);
        assert!(page.body["generated_at"].is_string());
        for s in page.body["sessions"].as_array().unwrap() {
            assert!(s["username"].is_string());
            seen.push(s["session_id"].as_str().unwrap().to_owned());
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        (seen.len(), unique.len()),
        (4, 4),
        "every session once across pages"
    );

    let r = app
        .delete("/api/admin/users/user1/sessions", Some(&admin))
        .await;
    assert_eq!(r.body, json!({"revoked": 2}));
    let kick = ws.expect_force_logout("revoked_by_admin").await;
    assert!(kick["by"].is_null());
    assert_eq!(
        app.delete("/api/admin/users/ghost/sessions", Some(&admin))
            .await
            .body,
        json!({"revoked": 0})
    );
    let not_utf8 = app
        .delete("/api/admin/users/%FF/sessions", Some(&admin))
        .await;
    assert_eq!(not_utf8.body, json!({"revoked": 0}));
    app.delete("/api/admin/users/user2/sessions", Some(&u1))
        .await
        .error(401, "session_revoked");
    let after = app.get("/api/admin/sessions", Some(&admin)).await;
    assert_eq!(
        after.body["count"], 2,
        "admin's own change shows at once: {}",
        after.body
    );
}

#[tokio::test]
async fn two_instances_on_one_redis_kick_each_others_sockets() {
    let redis = RedisServer::start();
    let a = spawn_app(redis_config(&redis)).await;
    let b = spawn_app(redis_config(&redis)).await;
    let t1 = a.login_ok("user1", "PC1").await;
    let mut on_a = a.ws_authed(&t1).await;
    let t2 = b.login_ok("user1", "PC2").await;
    let kick = on_a.expect_force_logout("duplicate_login").await;
    assert_eq!(kick["by"]["device"], "PC2");
    b.get("/api/auth/session", Some(&t1))
        .await
        .error(401, "session_revoked");
    a.get("/api/auth/session", Some(&t1))
        .await
        .error(401, "session_revoked");

    let mut on_b = b.ws_authed(&t2).await;
    assert_eq!(a.logout(&t2).await.status, 204);
    on_b.expect_force_logout("logout").await;
}

#[tokio::test]
async fn health_and_readiness_follow_the_store() {
    let mut redis = RedisServer::start_persistent();
    let app = spawn_app(redis_config(&redis)).await;
    assert_eq!(app.get("/healthz", None).await.status, 200);
    assert_eq!(app.get("/readyz", None).await.status, 200);
    let token = app.login_ok("user1", "PC1").await;
    redis.stop();
    app.get("/readyz", None)
        .await
        .error(503, "store_unavailable");
    app.login("user1", "password1", "PC2")
        .await
        .error(503, "store_unavailable");
    app.get("/api/auth/session", Some(&token))
        .await
        .error(503, "store_unavailable");
    assert_eq!(app.get("/healthz", None).await.status, 200);
    redis.restart();
    eventually("ready again", || async {
        app.get("/readyz", None).await.status == 200
    })
    .await;
    assert_eq!(
        app.get("/api/auth/session", Some(&token)).await.status,
        200,
        "nothing stored was lost"
    );
    app.login_ok("user1", "PC3").await;
}

#[tokio::test]
async fn metrics_count_sign_ins_revocations_kicks_and_sockets() {
    let app = spawn_app(base_config()).await;
    let t1 = app.login_ok("user1", "PC1").await;
    let mut ws = app.ws_authed(&t1).await;
    app.login_ok("user1", "PC2").await;
    ws.expect_force_logout("duplicate_login").await;
    app.login("user1", "wrong", "x")
        .await
        .error(401, "invalid_credentials");
    let t3 = app.login_ok("user2", "PC3").await;
    let _open = app.ws_authed(&t3).await;

    let r = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("openmetrics-text"));
    let text = r.text().await.unwrap();
    for needle in [
        "loginguard_sign_ins_total{origin=\"password\",result=\"ok\"} 3",
        "loginguard_sign_ins_total{origin=\"password\",result=\"invalid_credentials\"} 1",
        "loginguard_revocations_total{reason=\"duplicate_login\"} 1",
        "loginguard_kick_delivery_seconds_count 1",
        "loginguard_open_sockets 1",
        "loginguard_live_sessions 2",
        "loginguard_store_call_seconds_count{op=\"sign_in\"} 3",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
}

#[tokio::test]
async fn a_parallel_burst_of_guesses_cannot_pass_the_limit() {
    let mut config = base_config();
    config.limits.rate_limit_account = 5;
    let app = spawn_app(config).await;
    let guesses = (0..30).map(|i| {
        let app = &app;
        async move { app.login("user1", &format!("guess{i}"), "x").await.status }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let wrong = statuses.iter().filter(|s| **s == 401).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((wrong, limited), (5, 25), "{statuses:?}");
    app.login("user1", "password1", "x")
        .await
        .error(429, "rate_limited");
}
