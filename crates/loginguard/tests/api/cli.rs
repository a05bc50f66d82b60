//! The command line: `hash-password`, start-up errors, the users file and
//! demo mode.

use loginguard::domain::OnLimit;
use serde_json::json;

use crate::helpers::*;
use crate::process::run;

#[tokio::test]
async fn hash_password_makes_a_hash_the_users_file_accepts() {
    let (status, out, _) = run(&["hash-password"], "correct horse\n");
    assert!(status.success());
    let hash = out.trim();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.toml");
    std::fs::write(
        &file,
        format!(
            "[[users]]\nusername = \"alice\"\nname = \"Alice\"\npassword_hash = \"{hash}\"\nmax_sessions = 2\n\n[[users]]\nusername = \"bob\"\npassword_hash = \"{hash}\"\non_limit = \"deny_new\"\n"
        ),
    )
    .unwrap();
    let mut config = with_policy(base_config(), 1, OnLimit::KickOldest);
    config.accounts.users = Some(file);
    let app = spawn_app(config).await;
    // alice may hold two sessions; bob may not replace his one.
    let a1 = app.login("alice", "correct horse", "A1").await;
    assert_eq!(a1.body["user"]["name"], "Alice");
    let a2 = app.login("alice", "correct horse", "A2").await;
    assert_eq!(a2.body["revoked_sessions"], json!([]));
    assert_eq!(app.sessions(&a2.token()).await.len(), 2);
    app.login("bob", "correct horse", "B1").await.token();
    app.login("bob", "correct horse", "B2")
        .await
        .error(409, "session_limit_reached");
    app.login("user1", "password1", "x")
        .await
        .error(401, "invalid_credentials");
    let demo = app.get("/api/demo", None).await;
    assert_eq!(demo.status, 200);
    assert_eq!(demo.body, json!({"demo": false, "accounts": []}));
}

#[tokio::test]
async fn demo_mode_lists_its_accounts_for_the_page() {
    let app = spawn_app(base_config()).await;
    let demo = app.get("/api/demo", None).await;
    assert_eq!(demo.status, 200);
    assert_eq!(
        demo.body,
        json!({"demo": true, "accounts": [
            {"username": "user1", "password": "password1", "is_admin": false},
            {"username": "user2", "password": "password2", "is_admin": false},
            {"username": "admin", "password": "admin123", "is_admin": true},
        ]})
    );
    let admin = app.login("admin", "admin123", "desk").await;
    assert_eq!(admin.body["user"]["is_admin"], true);
}

#[test]
fn hash_password_refuses_an_empty_password() {
    let (status, _, err) = run(&["hash-password"], "\n");
    assert!(!status.success());
    assert!(err.contains("empty password"), "{err}");
}

#[test]
fn bad_settings_and_a_taken_port_fail_with_a_clear_message() {
    let (status, _, err) = run(&["serve", "--max-sessions", "0"], "");
    assert_eq!(status.code(), Some(2));
    assert!(
        err.contains("max_sessions") && err.contains("at least 1"),
        "{err}"
    );

    let (status, _, err) = run(&["serve", "--idle-timeout", "forever"], "");
    assert!(!status.success());
    assert!(err.contains("idle_timeout"), "{err}");

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (status, _, err) = run(&["serve", "--listen", &addr], "");
    assert!(!status.success());
    assert!(err.contains("cannot listen on"), "{err}");

    let (status, _, err) = run(&["serve", "--users", "/nonexistent/users.toml"], "");
    assert!(!status.success());
    assert!(err.contains("users file"), "{err}");
}

#[test]
fn settings_come_from_env_and_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lg.toml");
    std::fs::write(&file, "on_limit = \"sometimes\"\n").unwrap();
    let (status, _, err) = run(&["serve", "--config", file.to_str().unwrap()], "");
    assert!(!status.success());
    assert!(err.contains("on_limit"), "the file is read: {err}");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_loginguard"))
        .args(["serve"])
        .env("LOGINGUARD_MAX_SESSIONS", "0")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("max_sessions"),
        "env is read"
    );

    let help = std::process::Command::new(env!("CARGO_BIN_EXE_loginguard"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--listen",
        "--redis",
        "--redis-cluster",
        "--users",
        "--max-sessions",
        "--on-limit",
        "--idle-timeout",
        "--ws-idle-timeout",
        "--absolute-lifetime",
        "--allowed-origins",
        "--config",
        "LOGINGUARD_LISTEN",
    ] {
        assert!(text.contains(flag), "--help documents {flag}");
    }
}

#[test]
fn check_config_names_the_line_and_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users.toml");
    std::fs::write(
        &users,
        "# accounts\n[[users]]\nusername = \"alice\"\npassword_hash = \"not-a-hash\"\n",
    )
    .unwrap();
    let (status, _, err) = run(&["check-config", "--users", users.to_str().unwrap()], "");
    assert_eq!(status.code(), Some(2));
    assert!(err.contains("line 2") && err.contains("PHC"), "{err}");

    let config = dir.path().join("lg.toml");
    std::fs::write(&config, "max_sessions = 2\nidle_timeout = \"soon\"\n").unwrap();
    let (status, _, err) = run(&["check-config", "--config", config.to_str().unwrap()], "");
    assert_eq!(status.code(), Some(2));
    assert!(
        err.contains("line 2") && err.contains("idle_timeout"),
        "{err}"
    );

    std::fs::write(&config, "max_sessions = 2\n").unwrap();
    let (status, out, err) = run(&["check-config", "--config", config.to_str().unwrap()], "");
    assert!(status.success(), "{err}");
    assert!(out.contains("configuration is valid"), "{out}");
}
