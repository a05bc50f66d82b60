//! The users file changes under a running or restarting binary: SIGHUP
//! reloads it, and at start-up and on reload the password sessions it no
//! longer backs end (`account_removed`, `password_changed`), sockets told.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::helpers::*;
use crate::process::{cheap_hash, Proc};
use crate::redis_server::RedisServer;

/// Writes a users file of `(name, password)` entries (cheap hashes).
fn write_users(path: &Path, entries: &[(&str, &str)]) {
    let text: String = entries
        .iter()
        .map(|(name, password)| {
            let hash = cheap_hash(password);
            format!("[[users]]\nusername = {name:?}\npassword_hash = {hash:?}\n\n")
        })
        .collect();
    std::fs::write(path, text).expect("write users file");
}

/// `token` answers 401 `session_revoked` with `reason`.
async fn revoked_with(app: &TestApp, token: &str, reason: &str) -> bool {
    let r = app.get("/api/auth/session", Some(token)).await;
    r.status == 401
        && r.body["error"]["code"] == "session_revoked"
        && r.body["error"]["reason"] == reason
}

#[tokio::test]
async fn sighup_ends_sessions_of_removed_accounts_and_old_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.toml");
    write_users(&file, &[("alice", "old-secret"), ("bob", "bob-secret")]);
    let proc = Proc::serve(&["--users", file.to_str().unwrap()]);
    let app = TestApp::remote(&proc.addr);
    let alice = app.login("alice", "old-secret", "PC-A").await.token();
    let bob = app.login("bob", "bob-secret", "PC-B").await.token();
    let mut alice_ws = app.ws_authed(&alice).await;
    let mut bob_ws = app.ws_authed(&bob).await;

    write_users(&file, &[("alice", "new-secret")]);
    proc.signal("HUP");
    let kick = bob_ws.expect_force_logout("account_removed").await;
    assert_eq!(kick["by"], serde_json::Value::Null, "{kick}");
    alice_ws.expect_force_logout("password_changed").await;

    assert!(revoked_with(&app, &bob, "account_removed").await);
    assert!(revoked_with(&app, &alice, "password_changed").await);
    app.login("alice", "old-secret", "PC-A")
        .await
        .error(401, "invalid_credentials");
    app.login("bob", "bob-secret", "PC-B")
        .await
        .error(401, "invalid_credentials");
    let fresh = app.login("alice", "new-secret", "PC-A").await.token();
    assert_eq!(app.get("/api/auth/session", Some(&fresh)).await.status, 200);
}

#[tokio::test]
async fn a_users_file_that_does_not_load_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.toml");
    write_users(&file, &[("alice", "secret")]);
    let proc = Proc::serve(&["--users", file.to_str().unwrap()]);
    let app = TestApp::remote(&proc.addr);
    let alice = app.login("alice", "secret", "PC-A").await.token();
    let mut ws = app.ws_authed(&alice).await;

    std::fs::write(&file, "[[users]]\nusername = \"alice\"\n").unwrap();
    proc.signal("HUP");
    eventually("the failed reload is logged", || async {
        proc.logged("users file not reloaded")
    })
    .await;
    ws.send_json(json!({"type": "ping"})).await;
    assert_eq!(ws.next_event().await["type"], "pong");
    assert_eq!(app.get("/api/auth/session", Some(&alice)).await.status, 200);
    let other = app.login("alice", "secret", "PC-B").await.token();
    ws.expect_force_logout("duplicate_login").await;
    assert_eq!(app.get("/api/auth/session", Some(&other)).await.status, 200);
}

#[tokio::test]
async fn a_restart_ends_sessions_the_new_users_file_no_longer_backs() {
    let redis = RedisServer::start();
    let url = redis.url();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.toml");
    write_users(
        &file,
        &[
            ("alice", "old-secret"),
            ("bob", "bob-secret"),
            ("carol", "same"),
        ],
    );
    let args = ["--users", file.to_str().unwrap(), "--redis", &url];
    let mut first = Proc::serve(&args);
    let app = TestApp::remote(&first.addr);
    let alice = app.login("alice", "old-secret", "PC-A").await.token();
    let bob = app.login("bob", "bob-secret", "PC-B").await.token();
    let carol = app.login("carol", "same", "PC-C").await.token();
    first.signal("TERM");
    first.wait_exit(Duration::from_secs(15));

    write_users(&file, &[("alice", "new-secret"), ("carol", "same")]);
    let second = Proc::serve(&args);
    let app = TestApp::remote(&second.addr);
    eventually("bob's session ends with account_removed", || {
        revoked_with(&app, &bob, "account_removed")
    })
    .await;
    eventually("alice's session ends with password_changed", || {
        revoked_with(&app, &alice, "password_changed")
    })
    .await;
    assert_eq!(app.get("/api/auth/session", Some(&carol)).await.status, 200);
}

/// The store is down when the binary starts: the sessions are ended once it
/// answers.
#[tokio::test]
async fn the_start_up_reconcile_waits_for_the_store() {
    let mut redis = RedisServer::start_persistent();
    let url = redis.url();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.toml");
    write_users(&file, &[("alice", "secret"), ("bob", "secret")]);
    let args = ["--users", file.to_str().unwrap(), "--redis", &url];
    let mut first = Proc::serve(&args);
    let bob = TestApp::remote(&first.addr)
        .login("bob", "secret", "PC-B")
        .await
        .token();
    first.signal("TERM");
    first.wait_exit(Duration::from_secs(15));

    redis.stop();
    write_users(&file, &[("alice", "secret")]);
    let second = Proc::serve(&args);
    eventually("the reconcile fails while the store is down", || async {
        second.logged("cannot reconcile sessions")
    })
    .await;
    redis.restart();
    let app = TestApp::remote(&second.addr);
    eventually("bob's session ends once the store answers", || {
        revoked_with(&app, &bob, "account_removed")
    })
    .await;
}
