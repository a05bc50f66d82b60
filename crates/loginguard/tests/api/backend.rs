//! Trusted backends (`/api/v1`): API keys and their scopes, sessions made,
//! listed and ended by a backend on every store, the kicks they cause, RFC
//! 7662 introspection, and the keys file on the command line and on SIGHUP.

use std::path::{Path, PathBuf};
use std::time::Duration;

use loginguard::auth::{new_key, Scope};
use loginguard::config::Config;
use loginguard::domain::Clock;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::process::{cheap_hash, run, Proc};
use crate::redis_server::{RedisCluster, RedisServer};

/// The API keys a test holds: one per scope set.
pub struct Keys {
    /// Both scopes.
    pub full: String,
    /// `sessions` only.
    pub sessions: String,
    /// `introspect` only.
    pub introspect: String,
    pub file: PathBuf,
    _dir: tempfile::TempDir,
}

/// Writes a keys file with a key per scope set.
pub fn keys() -> Keys {
    let dir = tempfile::tempdir().unwrap();
    let full = new_key("shop", &Scope::ALL).unwrap();
    let sessions = new_key("signer", &[Scope::Sessions]).unwrap();
    let introspect = new_key("gateway", &[Scope::Introspect]).unwrap();
    let file = dir.path().join("api-keys.toml");
    let text = [&full.entry, &sessions.entry, &introspect.entry].map(String::as_str);
    std::fs::write(&file, text.join("\n")).unwrap();
    Keys {
        full: full.secret,
        sessions: sessions.secret,
        introspect: introspect.secret,
        file,
        _dir: dir,
    }
}

/// `config` with the keys file.
pub fn with_keys(mut config: Config, keys: &Keys) -> Config {
    config.accounts.api_keys = Some(keys.file.clone());
    config
}

/// `POST /api/v1/sessions` for `subject` from `device` with `key`. Each
/// device name has its own `device_id`, so two devices never replace each
/// other (the same device name does, as the same device would).
pub async fn create(app: &TestApp, key: &str, subject: &str, device: &str) -> Reply {
    let device_id: String = format!("device-id-{device}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(64)
        .collect();
    let body = json!({
        "subject": subject,
        "device": device,
        "device_class": "mobile",
        "device_id": device_id,
        "ip": "203.0.113.7",
        "user_agent": "ShopApp/2.1 (iPhone)",
    });
    app.request(Method::POST, "/api/v1/sessions", Some(key), Some(body))
        .await
}

/// The token of a 201 from `create`.
pub fn created(r: &Reply) -> String {
    assert_eq!(r.status, 201, "body: {}", r.body);
    r.body["token"].as_str().expect("token").to_owned()
}

/// `POST path` with a form body and `key`: the status and the JSON body.
async fn post_form(app: &TestApp, path: &str, key: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let resp = app
        .http
        .post(app.url(path))
        .bearer_auth(key)
        .form(form)
        .send()
        .await
        .expect("sent");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// `POST /api/v1/introspect` with a JSON body `{"token": token}`.
async fn introspect_json(app: &TestApp, key: &str, token: &str) -> Reply {
    let body = json!({"token": token});
    app.request(Method::POST, "/api/v1/introspect", Some(key), Some(body))
        .await
}

/// `POST /api/v1/introspect` with a form body `token=<token>`: its 200 body.
async fn introspect_form(app: &TestApp, key: &str, token: &str) -> Value {
    let (status, body) = post_form(app, "/api/v1/introspect", key, &[("token", token)]).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn unknown_keys_are_401_and_missing_scopes_403() {
    let keys = keys();
    let app = spawn_app(with_keys(base_config(), &keys)).await;
    let user_token = app.login_ok("user1", "PC1").await;
    let forged = new_key("forged", &Scope::ALL).unwrap().secret;
    for bad in [
        None,
        Some(forged.as_str()),
        Some(user_token.as_str()),
        Some("lgk_"),
    ] {
        create(&app, bad.unwrap_or_default(), "user1", "x")
            .await
            .error(401, "unauthorized");
        app.request(Method::POST, "/api/v1/sessions", bad, Some(json!({})))
            .await
            .error(401, "unauthorized");
        app.get("/api/v1/subjects/user1/sessions", bad)
            .await
            .error(401, "unauthorized");
    }
    create(&app, &keys.introspect, "user1", "x")
        .await
        .error(403, "forbidden");
    app.delete("/api/v1/subjects/user1/sessions", Some(&keys.introspect))
        .await
        .error(403, "forbidden");
    introspect_json(&app, &keys.sessions, &user_token)
        .await
        .error(403, "forbidden");
    // The key is checked before the body: no body rules leak to strangers.
    app.request(Method::POST, "/api/v1/sessions", None, Some(json!([])))
        .await
        .error(401, "unauthorized");
    created(&create(&app, &keys.sessions, "user1", "x").await);
    let live = introspect_form(&app, &keys.introspect, &user_token).await;
    assert_eq!(
        live,
        json!({"active": false}),
        "the backend's sign-in kicked it"
    );
}

#[tokio::test]
async fn bad_session_requests_are_400() {
    let keys = keys();
    let app = spawn_app(with_keys(base_config(), &keys)).await;
    let ok = json!({"subject": "user1"});
    let with = |field: &str, value: Value| {
        let mut body = ok.clone();
        body[field] = value;
        body
    };
    for body in [
        json!({}),
        json!(["user1"]),
        with("subject", json!("")),
        with("subject", json!("x".repeat(65))),
        with("subject", json!("a\u{0}b")),
        with("device", json!("d".repeat(65))),
        with("device_class", json!("Web")),
        with("device_class", json!("")),
        with("device_id", json!("short")),
        with("ip", json!("not an address")),
        with("ip", json!(7)),
    ] {
        app.request(
            Method::POST,
            "/api/v1/sessions",
            Some(&keys.full),
            Some(body.clone()),
        )
        .await
        .error(400, "bad_request");
    }
    let (status, _) = post_form(
        &app,
        "/api/v1/sessions",
        &keys.full,
        &[("subject", "user1")],
    )
    .await;
    assert_eq!(status, 415, "JSON only");
    let too_long = format!("/api/v1/subjects/{}/sessions", "x".repeat(65));
    app.get(&too_long, Some(&keys.full))
        .await
        .error(400, "bad_request");
    for id in ["nope", "s_0000"] {
        app.delete(&format!("/api/v1/sessions/{id}"), Some(&keys.full))
            .await
            .error(404, "not_found");
    }
}

/// A backend signs a subject in twice (the first is kicked with
/// `duplicate_login`), lists it, ends one session by id (`revoked_by_app`,
/// pushed to its socket) and then the whole subject.
async fn create_list_revoke(config: Config) {
    let keys = keys();
    let app = spawn_app(with_keys(config, &keys)).await;
    let first = create(&app, &keys.full, "shopper-1", "Shop on iPhone").await;
    let first_token = created(&first);
    assert_eq!(first.body["user"], json!({"username": "shopper-1"}));
    assert_eq!(first.body["token_type"], "Bearer");
    assert_eq!(first.body["revoked_sessions"], json!([]));
    let first_id = first.body["session_id"].as_str().unwrap().to_owned();
    let me = app.get("/api/auth/session", Some(&first_token)).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["device_class"], "mobile");
    assert_eq!(me.body["ip"], "203.0.113.7");
    let mut first_ws = app.ws_authed(&first_token).await;

    let second = create(&app, &keys.full, "shopper-1", "Shop on iPad").await;
    let second_token = created(&second);
    assert_eq!(
        second.body["revoked_sessions"],
        json!([{"session_id": first_id, "device": "Shop on iPhone"}])
    );
    let kick = first_ws.expect_force_logout("duplicate_login").await;
    assert_eq!(kick["by"]["device"], "Shop on iPad");
    assert_eq!(kick["by"]["ip"], "203.0.113.7");
    let second_id = second.body["session_id"].as_str().unwrap().to_owned();
    let mut second_ws = app.ws_authed(&second_token).await;

    let path = "/api/v1/subjects/shopper-1/sessions";
    eventually("the list shows the socket", || async {
        let list = app.get(path, Some(&keys.sessions)).await;
        list.body["sessions"][0]["connections"] == 1
    })
    .await;
    let list = app.get(path, Some(&keys.sessions)).await;
    let sessions = list.body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{}", list.body);
    assert_eq!(sessions[0]["session_id"], second_id.as_str());
    assert_eq!(sessions[0]["origin"], "backend");
    assert_eq!(sessions[0]["device_class"], "mobile");
    assert!(sessions[0].get("token").is_none());

    let one = format!("/api/v1/sessions/{second_id}");
    let r = app.delete(&one, Some(&keys.sessions)).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let kick = second_ws.expect_force_logout("revoked_by_app").await;
    assert_eq!(kick["by"], Value::Null);
    assert_eq!(kick["message"], "The application signed you out.");
    let gone = app.get("/api/auth/session", Some(&second_token)).await;
    assert_eq!(
        gone.error(401, "session_revoked")["reason"],
        "revoked_by_app"
    );
    app.clock.advance(Duration::from_millis(1));
    app.delete(&one, Some(&keys.sessions))
        .await
        .error(404, "not_found");

    let third = created(&create(&app, &keys.full, "shopper-1", "Shop on Mac").await);
    let mut third_ws = app.ws_authed(&third).await;
    let all = app.delete(path, Some(&keys.sessions)).await;
    assert_eq!(all.body, json!({"revoked": 1}));
    third_ws.expect_force_logout("revoked_by_app").await;
    // A revoke is identified by its account, reason and millisecond (a lost
    // reply's re-run answers alike): a second one needs the clock to move.
    app.clock.advance(Duration::from_millis(1));
    let none = app.delete(path, Some(&keys.sessions)).await;
    assert_eq!(none.body, json!({"revoked": 0}));
    let empty = app.get(path, Some(&keys.sessions)).await;
    assert_eq!(empty.body, json!({"sessions": []}));
}

#[tokio::test]
async fn a_backend_creates_lists_and_ends_sessions_on_memory() {
    create_list_revoke(base_config()).await;
}

#[tokio::test]
async fn a_backend_creates_lists_and_ends_sessions_on_redis() {
    let redis = RedisServer::start();
    create_list_revoke(redis_config(&redis)).await;
}

#[tokio::test]
async fn a_backend_creates_lists_and_ends_sessions_on_redis_cluster() {
    let cluster = RedisCluster::start();
    create_list_revoke(cluster_config(&cluster)).await;
}

/// A subject that is also in the users file shares its account, its limit
/// and its overrides with password sign-ins.
#[tokio::test]
async fn backend_and_password_sessions_share_one_policy() {
    let keys = keys();
    let app = spawn_app(with_keys(base_config(), &keys)).await;
    let password = app.login_ok("user1", "PC1").await;
    let mut ws = app.ws_authed(&password).await;
    let backend = create(&app, &keys.full, "user1", "Shop").await;
    assert_eq!(backend.body["user"], json!({"username": "user1"}));
    let kick = ws.expect_force_logout("duplicate_login").await;
    assert_eq!(kick["by"]["device"], "Shop");
    let again = app.login_ok("user1", "PC1").await;
    let list = app.get("/api/auth/sessions", Some(&again)).await;
    assert_eq!(list.body["sessions"].as_array().unwrap().len(), 1);

    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users.toml");
    let hash = cheap_hash("pw");
    std::fs::write(
        &users,
        format!("[[users]]\nusername = \"duo\"\npassword_hash = {hash:?}\nmax_sessions = 2\non_limit = \"deny_new\"\n"),
    )
    .unwrap();
    let mut config = with_keys(base_config(), &keys);
    config.accounts.users = Some(users);
    let app = spawn_app(config).await;
    created(&create(&app, &keys.full, "duo", "A").await);
    app.login("duo", "pw", "B").await.token();
    let refused = create(&app, &keys.full, "duo", "C").await;
    let error = refused.error(409, "session_limit_reached");
    assert_eq!(error["active_sessions"].as_array().unwrap().len(), 2);

    // The sign-in counter tells the backend's sessions from password ones.
    let metrics = app.http.get(app.url("/metrics")).send().await.unwrap();
    let metrics = metrics.text().await.unwrap();
    for line in [
        "loginguard_sign_ins_total{origin=\"backend\",result=\"ok\"} 1",
        "loginguard_sign_ins_total{origin=\"backend\",result=\"session_limit_reached\"} 1",
        "loginguard_sign_ins_total{origin=\"password\",result=\"ok\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
    assert!(!metrics.contains("origin=\"password\",result=\"session_limit_reached\""));
}

#[tokio::test]
async fn introspection_answers_active_only_for_a_token_that_works_now() {
    let keys = keys();
    let app = spawn_app(with_keys(base_config(), &keys)).await;
    let made = create(&app, &keys.full, "shopper-2", "Shop on iPhone").await;
    let token = created(&made);
    let live = introspect_form(&app, &keys.introspect, &token).await;
    let created_at = app.clock.now().0 / 1000;
    assert_eq!(
        live,
        json!({
            "active": true,
            "sub": "shopper-2",
            "sid": made.body["session_id"],
            "iat": created_at,
            "exp": created_at + 12 * 3600,
            "token_type": "Bearer",
            "device": "Shop on iPhone",
            "device_class": "mobile",
        })
    );
    assert_eq!(introspect_json(&app, &keys.full, &token).await.body, live);

    // Each introspection is a use: 20 + 20 minutes apart it keeps a session
    // alive past the 30 minute idle timeout.
    app.clock.advance(Duration::from_secs(20 * 60));
    assert_eq!(
        introspect_form(&app, &keys.introspect, &token).await["active"],
        true
    );
    app.clock.advance(Duration::from_secs(20 * 60));
    assert_eq!(
        introspect_form(&app, &keys.introspect, &token).await["active"],
        true
    );

    let inactive = json!({"active": false});
    app.clock.advance(Duration::from_secs(31 * 60));
    assert_eq!(
        introspect_form(&app, &keys.introspect, &token).await,
        inactive,
        "expired"
    );

    let revoked = created(&create(&app, &keys.full, "shopper-3", "x").await);
    let other = app.login_ok("user2", "PC").await;
    app.logout(&other).await;
    app.delete("/api/v1/subjects/shopper-3/sessions", Some(&keys.full))
        .await;
    let swap = if &token[60..61] == "A" { "B" } else { "A" };
    let forged = format!("{}{swap}{}", &token[..60], &token[61..]);
    for dead in [
        revoked.as_str(),
        other.as_str(),
        "",
        "   ",
        "garbage",
        forged.as_str(),
        &keys.full,
        &"A".repeat(10_000),
    ] {
        assert_eq!(
            introspect_form(&app, &keys.introspect, dead).await,
            inactive,
            "{dead:?}"
        );
    }
    let hint_only = [("token_type_hint", "access_token")];
    let (status, body) = post_form(&app, "/api/v1/introspect", &keys.introspect, &hint_only).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("bad_request")),
        "no token field"
    );
}

/// Writes a keys file holding exactly `entries`.
fn write_keys(path: &Path, entries: &[&str]) {
    std::fs::write(path, entries.join("\n")).unwrap();
}

#[tokio::test]
async fn sighup_puts_a_new_keys_file_in_force_and_a_broken_one_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("api-keys.toml");
    let old = new_key("old-shop", &Scope::ALL).unwrap();
    let new = new_key("new-shop", &Scope::ALL).unwrap();
    write_keys(&file, &[&old.entry]);
    let proc = Proc::serve(&["--api-keys", file.to_str().unwrap()]);
    let app = TestApp::remote(&proc.addr);
    created(&create(&app, &old.secret, "user1", "A").await);
    create(&app, &new.secret, "user1", "B")
        .await
        .error(401, "unauthorized");

    write_keys(&file, &[&new.entry]);
    proc.signal("HUP");
    eventually("the new key works and the old one no longer", || async {
        create(&app, &new.secret, "user1", "C").await.status == 201
            && create(&app, &old.secret, "user1", "D").await.status == 401
    })
    .await;

    std::fs::write(&file, "[[key]]\nname = \"broken\"\n").unwrap();
    proc.signal("HUP");
    eventually("the failed reload is logged", || async {
        proc.logged("API keys not reloaded")
    })
    .await;
    created(&create(&app, &new.secret, "user1", "E").await);
    assert!(proc.logged("new-shop"), "audit lines name the key");
    for secret in [&old.secret, &new.secret] {
        assert!(!proc.logged(&secret[4..]), "a key was logged");
    }
}

#[tokio::test]
async fn users_file_reloads_leave_backend_sessions_alone() {
    let keys = keys();
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users.toml");
    let entry = |name: &str| {
        let hash = cheap_hash("pw");
        format!("[[users]]\nusername = {name:?}\npassword_hash = {hash:?}\n")
    };
    std::fs::write(&users, entry("alice") + &entry("bob")).unwrap();
    let args = [
        "--users",
        users.to_str().unwrap(),
        "--api-keys",
        keys.file.to_str().unwrap(),
    ];
    let proc = Proc::serve(&args);
    let app = TestApp::remote(&proc.addr);
    let alice = app.login("alice", "pw", "PC").await.token();
    let mut alice_ws = app.ws_authed(&alice).await;
    let bob = created(&create(&app, &keys.full, "bob", "Shop").await);
    let carol = created(&create(&app, &keys.full, "carol", "Shop").await);

    std::fs::write(&users, entry("nobody")).unwrap();
    proc.signal("HUP");
    alice_ws.expect_force_logout("account_removed").await;
    for backend in [&bob, &carol] {
        assert_eq!(
            app.get("/api/auth/session", Some(backend)).await.status,
            200
        );
    }
}

#[test]
fn api_key_new_prints_a_key_and_the_entry_check_config_accepts() {
    let (status, out, err) = run(&["api-key", "new", "shop"], "");
    assert!(status.success(), "{err}");
    let (key, entry) = out.split_once("\n\n").expect("key, blank line, entry");
    assert!(key.starts_with("lgk_") && key.len() == 47, "{key:?}");
    assert!(
        key[4..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{key:?}"
    );
    assert!(
        entry.starts_with("[[key]]\nname = \"shop\"\nsha256 = \""),
        "{entry}"
    );
    assert!(
        entry.contains("scopes = [\"sessions\", \"introspect\"]"),
        "{entry}"
    );
    assert!(!entry.contains(&key[4..]), "the file never holds the key");

    let (_, again, _) = run(&["api-key", "new", "shop", "--scopes", "introspect"], "");
    assert_ne!(again.lines().next(), Some(key), "every key is fresh");
    assert!(again.contains("scopes = [\"introspect\"]"), "{again}");
    let (status, _, err) = run(&["api-key", "new", "two words"], "");
    assert_eq!(status.code(), Some(2), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys.toml");
    std::fs::write(&file, entry).unwrap();
    let path = file.to_str().unwrap();
    let (status, out, err) = run(&["check-config", "--api-keys", path], "");
    assert!(status.success(), "{err}");
    assert!(out.contains("(1 keys)"), "{out}");

    std::fs::write(
        &file,
        format!("# keys\n{}", entry.replace("sessions", "admin")),
    )
    .unwrap();
    let (status, _, err) = run(&["check-config", "--api-keys", path], "");
    assert_eq!(status.code(), Some(2));
    assert!(err.contains("keys.toml") && err.contains("line"), "{err}");
    assert!(err.contains("admin"), "{err}");
}
