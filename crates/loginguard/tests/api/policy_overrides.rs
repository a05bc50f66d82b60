//! Runtime policy overrides over HTTP: `GET|PUT|DELETE
//! /api/admin/users/{username}/policy` (admin only, every bad input a 400),
//! the override beating the users file and the flags for password
//! sign-ins, evictions and trusted backends' sessions, and an override set
//! on one instance holding on another at once (Redis and Cluster).

use loginguard::config::Config;
use loginguard::domain::OnLimit;
use reqwest::Method;
use serde_json::{json, Value};

use crate::backend::{create, created, keys, with_keys};
use crate::helpers::*;
use crate::instances::{instances, names, PASSWORD};
use crate::process::cheap_hash;
use crate::redis_server::{RedisCluster, RedisServer};

fn policy_path(user: &str) -> String {
    format!("/api/admin/users/{user}/policy")
}

async fn put(app: &TestApp, token: &str, user: &str, body: Value) -> Reply {
    app.request(Method::PUT, &policy_path(user), Some(token), Some(body))
        .await
}

#[tokio::test]
async fn the_admin_reads_sets_and_removes_an_override() {
    let app = spawn_app(base_config()).await;
    let admin = app.login_ok("admin", "Admin PC").await;
    let r = app.get(&policy_path("user1"), Some(&admin)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body,
        json!({"username": "user1", "override": null,
               "effective": {"max_sessions": 1, "on_limit": "kick_oldest", "class_limits": {}}})
    );

    let r = put(
        &app,
        &admin,
        "user1",
        json!({"max_sessions": 2, "on_limit": "deny_new"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let expected = json!({"username": "user1",
        "override": {"max_sessions": 2, "on_limit": "deny_new"},
        "effective": {"max_sessions": 2, "on_limit": "deny_new", "class_limits": {}}});
    assert_eq!(r.body, expected);
    assert_eq!(
        app.get(&policy_path("user1"), Some(&admin)).await.body,
        expected
    );

    app.login_ok("user1", "A").await;
    app.login_ok("user1", "B").await;
    app.login("user1", "password1", "C")
        .await
        .error(409, "session_limit_reached");

    // A partial PUT replaces the whole override.
    let r = put(&app, &admin, "user1", json!({"class_limits": {"web": 1}})).await;
    assert_eq!(r.body["override"], json!({"class_limits": {"web": 1}}));
    assert_eq!(r.body["effective"]["max_sessions"], 1);
    assert_eq!(r.body["effective"]["on_limit"], "kick_oldest");

    for _ in 0..2 {
        let r = app.delete(&policy_path("user1"), Some(&admin)).await;
        assert_eq!((r.status, r.body.clone()), (204, Value::Null));
    }
    assert_eq!(
        app.get(&policy_path("user1"), Some(&admin)).await.body["override"],
        Value::Null
    );
    let r = app.login("user1", "password1", "D").await;
    r.token();
    assert_eq!(r.body["revoked_sessions"].as_array().unwrap().len(), 2);

    // Any valid name: a trusted backend's subjects are in no users file.
    let r = put(&app, &admin, "shop-customer-42", json!({"max_sessions": 5})).await;
    assert_eq!(r.body["effective"]["max_sessions"], 5);
}

#[tokio::test]
async fn only_an_admin_may_and_every_bad_input_is_a_400() {
    let app = spawn_app(with_policy(base_config(), 2, OnLimit::KickOldest)).await;
    let admin = app.login_ok("admin", "Admin PC").await;
    let user = app.login_ok("user1", "PC").await;
    let body = Some(json!({"max_sessions": 2}));
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let path = policy_path("user2");
        app.request(method.clone(), &path, None, body.clone())
            .await
            .error(401, "unauthorized");
        app.request(method, &path, Some(&user), body.clone())
            .await
            .error(403, "forbidden");
    }
    for bad in [
        json!([]),
        json!("max_sessions"),
        json!(null),
        json!({}),
        json!({"max_sessions": null}),
        json!({"max_sessions": 0}),
        json!({"max_sessions": 1001}),
        json!({"max_sessions": -1}),
        json!({"max_sessions": 2.5}),
        json!({"max_sessions": "2"}),
        json!({"on_limit": "never"}),
        json!({"on_limit": ["ask"]}),
        json!({"class_limits": []}),
        json!({"class_limits": "web=1"}),
        json!({"class_limits": {"Web": 1}}),
        json!({"class_limits": {"web": 0}}),
        json!({"class_limits": {"web": 1001}}),
        json!({"class_limits": {"web": {"max": 1}}}),
        json!({"max_sessions": 2, "onlimit": "ask"}),
    ] {
        let r = put(&app, &admin, "user2", bad.clone()).await;
        assert_eq!(r.status, 400, "{bad} -> {}", r.body);
        r.error(400, "bad_request");
    }
    let r = app
        .http
        .put(app.url(&policy_path("user2")))
        .bearer_auth(&admin)
        .header("content-type", "text/plain")
        .body("max_sessions=2")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let long = "u".repeat(200);
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let r = app
            .request(method, &policy_path(&long), Some(&admin), body.clone())
            .await;
        r.error(400, "bad_request");
    }
    // Nothing was stored by any of them.
    let r = app.get(&policy_path("user2"), Some(&admin)).await;
    assert_eq!(r.body["override"], Value::Null);
}

/// A users file that gives user1 three sessions under `deny_new`.
fn generous_users_file(dir: &std::path::Path) -> std::path::PathBuf {
    let hash = cheap_hash(PASSWORD);
    let text = format!(
        "[[users]]\nusername = \"user1\"\npassword_hash = {hash:?}\nmax_sessions = 3\non_limit = \"deny_new\"\n\n\
         [[users]]\nusername = \"admin\"\npassword_hash = {hash:?}\nadmin = true\n"
    );
    let path = dir.join("users.toml");
    std::fs::write(&path, text).unwrap();
    path
}

async fn sign_in(app: &TestApp, user: &str, device: &str) -> Reply {
    app.login(user, PASSWORD, device).await
}

/// The override beats the users file's entry; `ask` from an override hands
/// out a ticket that redeems under it; trusted backends' sessions follow it.
#[tokio::test]
async fn the_override_beats_the_users_file_for_every_kind_of_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys();
    let mut config = with_keys(base_config(), &keys);
    config.accounts.users = Some(generous_users_file(dir.path()));
    let app = spawn_app(config).await;
    let admin = sign_in(&app, "admin", "Admin PC").await.token();
    let r = app.get(&policy_path("user1"), Some(&admin)).await;
    assert_eq!(
        r.body["effective"]["max_sessions"], 3,
        "from the users file"
    );
    assert_eq!(r.body["effective"]["on_limit"], "deny_new");

    let r = put(
        &app,
        &admin,
        "user1",
        json!({"max_sessions": 1, "on_limit": "ask"}),
    )
    .await;
    assert_eq!(r.body["effective"]["max_sessions"], 1);
    let first = sign_in(&app, "user1", "A").await;
    first.token();
    let r = sign_in(&app, "user1", "B").await;
    let e = r.error(409, "session_limit_reached");
    let ticket = e["eviction_ticket"]
        .as_str()
        .expect("ask from the override");
    let body = json!({"ticket": ticket, "session_id": first.body["session_id"]});
    let won = app
        .request(Method::POST, "/api/auth/login/evict", None, Some(body))
        .await;
    won.token();
    assert_eq!(won.body["revoked_sessions"][0]["device"], "A");

    // A backend's subject: flags say one session, kick_oldest.
    created(&create(&app, &keys.full, "shopper", "Phone").await);
    put(&app, &admin, "shopper", json!({"on_limit": "deny_new"})).await;
    create(&app, &keys.full, "shopper", "Tablet")
        .await
        .error(409, "session_limit_reached");
    app.delete(&policy_path("shopper"), Some(&admin)).await;
    created(&create(&app, &keys.full, "shopper", "Tablet").await);
}

/// Set on one instance, used by the next sign-in on the other; removed on
/// the other, gone on the first.
async fn holds_on_every_instance_at_once(config: Config) {
    let dir = tempfile::tempdir().unwrap();
    let config = with_policy(config, 1, OnLimit::KickOldest);
    let apps = instances(config, 2, &names("user", 2), &dir).await;
    let (one, two) = (&apps[0], &apps[1]);
    let admin = sign_in(one, "admin", "Admin PC").await.token();
    put(
        one,
        &admin,
        "user0",
        json!({"max_sessions": 2, "on_limit": "deny_new"}),
    )
    .await;
    sign_in(two, "user0", "A").await.token();
    sign_in(two, "user0", "B").await.token();
    sign_in(two, "user0", "C")
        .await
        .error(409, "session_limit_reached");
    let r = two.get(&policy_path("user0"), Some(&admin)).await;
    assert_eq!(r.body["override"]["max_sessions"], 2);

    assert_eq!(
        two.delete(&policy_path("user0"), Some(&admin)).await.status,
        204
    );
    let r = sign_in(one, "user0", "D").await;
    r.token();
    assert_eq!(r.body["revoked_sessions"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn an_override_holds_on_every_instance_at_once_on_redis() {
    let redis = RedisServer::start();
    holds_on_every_instance_at_once(redis_config(&redis)).await;
}

#[tokio::test]
async fn an_override_holds_on_every_instance_at_once_on_a_cluster() {
    let cluster = RedisCluster::start();
    holds_on_every_instance_at_once(cluster_config(&cluster)).await;
}
