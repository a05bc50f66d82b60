//! The audit trail from outside: `GET /api/admin/audit` and the
//! `loginguard audit` command (the real binary on a real `redis-server`).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::helpers::{base_config, eventually, redis_config, spawn_app};
use crate::redis_server::RedisServer;

const FIELDS: [&str; 10] = [
    "id",
    "at",
    "type",
    "username",
    "session_id",
    "device",
    "ip",
    "reason",
    "by",
    "instance",
];

/// `at` and `by.at`: RFC 3339 UTC with milliseconds and a `Z`.
fn is_timestamp(v: &Value) -> bool {
    let s = v.as_str().unwrap_or_default();
    s.len() == 24 && s.ends_with('Z') && s.as_bytes()[19] == b'.' && s.contains('T')
}

fn kinds(entries: &[Value]) -> Vec<&str> {
    entries
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn the_admin_reads_every_change_newest_first() {
    let app = spawn_app(base_config()).await;
    let admin = app.login_ok("admin", "Admin PC").await;
    let pc1 = app.login_ok("user1", "PC1").await;
    let pc2 = app.login_ok("user1", "PC2").await;
    assert_eq!(app.login("user1", "wrong", "PC3").await.status, 401);
    assert_eq!(app.logout(&pc2).await.status, 204);

    app.get("/api/admin/audit", Some(&pc2))
        .await
        .error(401, "session_revoked");
    let user2 = app.login_ok("user2", "U2").await;
    app.get("/api/admin/audit", Some(&user2))
        .await
        .error(403, "forbidden");
    app.get("/api/admin/audit", None)
        .await
        .error(401, "unauthorized");
    for bad in [
        "limit=0",
        "limit=1001",
        "limit=x",
        "cursor=%%%",
        "cursor=12",
        "cursor=1-x",
        "username=%01",
    ] {
        app.get(&format!("/api/admin/audit?{bad}"), Some(&admin))
            .await
            .error(400, "bad_request");
    }

    // The wrong password is appended in the background.
    let trail = || async {
        let page = app
            .get("/api/admin/audit?username=user1", Some(&admin))
            .await;
        assert_eq!(page.status, 200, "{}", page.body);
        page.body["entries"].as_array().unwrap().clone()
    };
    eventually("the failed sign-in is in the trail", || async {
        trail().await.len() == 5
    })
    .await;
    let entries = trail().await;
    let mut seen = kinds(&entries);
    seen.reverse();
    // The failed sign-in may land before or after the sign-out.
    let failed = seen.iter().position(|k| *k == "sign_in_failed").unwrap();
    seen.remove(failed);
    assert_eq!(seen, ["signed_in", "revoked", "signed_in", "signed_out"]);
    for e in &entries {
        let keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
        let mut want = FIELDS.to_vec();
        want.sort();
        let mut keys = keys;
        keys.sort();
        assert_eq!(keys, want, "{e}");
        assert!(is_timestamp(&e["at"]), "{e}");
        assert_eq!(e["username"], "user1");
        assert!(e["instance"].as_str().is_some_and(|i| !i.is_empty()));
    }
    let pushed_out = entries.iter().find(|e| e["type"] == "revoked").unwrap();
    assert_eq!(pushed_out["reason"], "duplicate_login");
    assert_eq!(pushed_out["device"], "PC1");
    assert_eq!(pushed_out["by"]["device"], "PC2");
    assert!(is_timestamp(&pushed_out["by"]["at"]));
    let wrong = entries
        .iter()
        .find(|e| e["type"] == "sign_in_failed")
        .unwrap();
    assert_eq!(
        (wrong["session_id"].is_null(), &wrong["device"]),
        (true, &Value::from("PC3"))
    );
    let text = serde_json::to_string(&entries).unwrap();
    for secret in [&pc1, &pc2, "wrong", "password1", "argon2"] {
        assert!(!text.contains(secret), "the trail shows {secret}");
    }

    // Pages of one continue where the last ended, across every account.
    let mut ids = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = app
            .get(
                &format!("/api/admin/audit?limit=1&cursor={cursor}"),
                Some(&admin),
            )
            .await;
        assert_eq!(page.status, 200, "{}", page.body);
        for e in page.body["entries"].as_array().unwrap() {
            ids.push(e["id"].as_str().unwrap().to_owned());
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    // admin, user2 and user1's five.
    assert_eq!(ids.len(), 7, "{ids:?}");
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(unique.len(), 7);
}

/// Runs `loginguard audit <args>` to its end: its stdout lines and status.
fn audit_cli(args: &[&str]) -> (Vec<Value>, std::process::Output) {
    let out = Command::new(env!("CARGO_BIN_EXE_loginguard"))
        .arg("audit")
        .args(args)
        .env_remove("LOGINGUARD_REDIS")
        .output()
        .expect("run loginguard audit");
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    (lines, out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_command_prints_and_follows_a_redis_trail() {
    let redis = RedisServer::start();
    let url = redis.url();
    let app = spawn_app(redis_config(&redis)).await;
    app.login_ok("user1", "PC1").await;
    app.login_ok("user1", "PC2").await;
    app.login_ok("user2", "U2").await;

    let (all, out) = tokio::task::block_in_place(|| audit_cli(&["--redis", &url]));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        kinds(&all),
        ["signed_in", "signed_in", "revoked", "signed_in"]
    );
    assert_eq!(all[0]["username"], "user2", "newest first");
    for e in &all {
        assert_eq!(e.as_object().unwrap().len(), FIELDS.len(), "{e}");
        assert!(is_timestamp(&e["at"]));
    }
    let (mine, _) = tokio::task::block_in_place(|| {
        audit_cli(&["--redis", &url, "--username", "user1", "--limit", "2"])
    });
    assert_eq!(kinds(&mine), ["signed_in", "revoked"]);
    assert_eq!(mine[1]["by"]["device"], "PC2");

    // --follow: the newest first shown oldest first, then what comes.
    let mut follow = Command::new(env!("CARGO_BIN_EXE_loginguard"))
        .args(["audit", "--redis", &url, "--follow", "--username", "user1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn loginguard audit --follow");
    let stdout = follow.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<Value>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(serde_json::from_str(&line).expect("a JSON line"));
        }
    });
    let next = |what: &str| {
        rx.recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("no line for {what}"))
    };
    let shown: Vec<Value> = (0..3).map(|_| next("the first lines")).collect();
    assert_eq!(
        kinds(&shown),
        ["signed_in", "revoked", "signed_in"],
        "oldest first"
    );
    assert_eq!(shown[2]["device"], "PC2");
    app.login_ok("user2", "not shown").await;
    app.login_ok("user1", "PC3").await;
    let pushed = next("PC2 pushed out");
    assert_eq!(
        (&pushed["type"], &pushed["device"]),
        (&"revoked".into(), &"PC2".into())
    );
    let new = next("PC3's sign-in");
    assert_eq!(
        (&new["type"], &new["device"]),
        (&"signed_in".into(), &"PC3".into())
    );
    follow.kill().unwrap();
    follow.wait().unwrap();
    assert!(
        rx.recv_timeout(Duration::from_millis(200)).is_err(),
        "nothing else"
    );

    let (_, none) = tokio::task::block_in_place(|| audit_cli(&[]));
    assert_eq!(none.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&none.stderr).contains("--redis"));
    let (_, bad) = tokio::task::block_in_place(|| audit_cli(&["--redis", &url, "--limit", "0"]));
    assert_eq!(bad.status.code(), Some(2));
}
