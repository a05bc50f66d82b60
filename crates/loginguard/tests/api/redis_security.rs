//! TLS and ACL to Redis: two instances run the whole flow (sign-in,
//! validation, a kick over WebSocket, admin list with presence, revocation,
//! sign-out, the audit trail read back, webhooks, shutdown) against a TLS-only Redis with a private CA
//! (`--redis-ca`), signed in as a user holding exactly the ACL rule of
//! docs/redis.md, on standalone and on Cluster. Redis's ACL log must stay
//! empty (nothing loginguard sent was refused), and the rule must refuse
//! what loginguard does not need.

use std::time::Duration;

use loginguard::config::{CaBundle, Config};

use crate::helpers::*;
use crate::redis_server::{RedisCluster, RedisServer, Setup};
use crate::secure_redis::{apply_acl, as_lg, TestCerts, LG_PASSWORD, LG_USER};
use crate::webhook_receiver::{verifies, Receiver, SECRET};

/// TLS with a fresh CA and the documented ACL; the CA as `--redis-ca` takes it.
fn secured(dir: &tempfile::TempDir) -> (Setup, CaBundle) {
    let mut setup = Setup::default();
    let certs = TestCerts::write_to(dir.path());
    certs.apply(&mut setup);
    apply_acl(dir.path(), &mut setup);
    let pem = std::fs::read(&certs.ca).unwrap();
    (
        setup,
        CaBundle {
            pem,
            certificates: 1,
        },
    )
}

async fn whole_flow(mut config: Config, acl_log: impl Fn() -> String) {
    config.ws.presence_interval = Duration::from_millis(100);
    // The sweep's upkeep (`SSCAN` of the accounts index, `prune.lua`) runs
    // many times during the flow, so the rule is checked against it too.
    config.session.sweep_interval = Duration::from_millis(100);
    let receiver = Receiver::start(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    config.webhooks.webhooks =
        Some(receiver.file(dir.path(), &["session.created", "session.revoked"]));
    let a = spawn_app(config.clone()).await;
    let b = spawn_app(config).await;

    let t1 = a.login_ok("user1", "PC1").await;
    assert_eq!(b.get("/api/auth/session", Some(&t1)).await.status, 200);
    let mut pc1 = a.ws_authed(&t1).await;
    let t2 = b.login_ok("user1", "PC2").await;
    pc1.expect_force_logout("duplicate_login").await;
    let mut pc2 = b.ws_authed(&t2).await;

    let admin = a.login_ok("admin", "console").await;
    eventually("the admin list on A counts PC2's socket on B", || async {
        let page = a.get("/api/admin/sessions", Some(&admin)).await;
        page.status == 200
            && page.body["sessions"].as_array().is_some_and(|s| {
                s.iter()
                    .any(|s| s["device"] == "PC2" && s["connections"] == 1)
            })
    })
    .await;
    let r = a
        .delete("/api/admin/users/user1/sessions", Some(&admin))
        .await;
    assert_eq!(r.body["revoked"], 1, "{}", r.body);
    pc2.expect_force_logout("revoked_by_admin").await;
    // A wrong password is appended outside any script; the trail is read
    // back page by page (`XADD`, `XREVRANGE`).
    assert_eq!(b.login("user1", "wrong", "PC3").await.status, 401);
    eventually("the audit trail holds user1's changes", || async {
        let page = a.get("/api/admin/audit?username=user1", Some(&admin)).await;
        let kinds: Vec<String> = page.body["entries"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
            .collect();
        page.status == 200
            && kinds.len() == 5
            && ["signed_in", "revoked", "sign_in_failed"]
                .iter()
                .all(|k| kinds.iter().any(|seen| seen == k))
    })
    .await;
    assert_eq!(a.logout(&admin).await.status, 204);
    // PC1, PC2 and admin each signed in and out: six webhooks.
    eventually("every webhook delivered", || async {
        receiver.got().len() >= 6
    })
    .await;
    assert!(receiver.got().iter().all(|h| verifies(h, SECRET)));

    a.shutdown().await;
    b.shutdown().await;
    assert_eq!(
        acl_log().trim(),
        "",
        "Redis refused something loginguard sent"
    );
}

/// A secured standalone Redis and the settings that reach it as
/// loginguard's user, without `--redis-ca` yet.
fn secured_standalone(dir: &tempfile::TempDir) -> (RedisServer, Config, CaBundle) {
    let (setup, ca) = secured(dir);
    let redis = RedisServer::start_with(setup);
    assert!(redis.url().starts_with("rediss://"));
    let mut config = base_config();
    config.store.redis = Some(as_lg(&redis.url()).into());
    (redis, config, ca)
}

#[tokio::test]
async fn tls_and_the_documented_acl_rule_standalone() {
    let dir = tempfile::tempdir().unwrap();
    let (redis, mut config, ca) = secured_standalone(&dir);
    config.store.redis_ca = Some(ca);
    let url = config.store.redis.clone().unwrap();
    whole_flow(config, || redis.cli(&["ACL", "LOG"]).unwrap()).await;

    // `loginguard audit --follow` as the same user: it prints, then waits
    // for new entries with `XREAD BLOCK` (a refusal would end it at once).
    let ca = dir.path().join("ca.pem");
    let mut follow = std::process::Command::new(env!("CARGO_BIN_EXE_loginguard"))
        .args(["audit", "--follow", "--limit", "3", "--redis"])
        .arg(secrecy::ExposeSecret::expose_secret(&url))
        .arg("--redis-ca")
        .arg(&ca)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(follow.stdout.take().unwrap()));
    for _ in 0..3 {
        let line = lines.next().expect("a line").unwrap();
        assert!(line.starts_with("{\"id\":"), "{line}");
    }
    eventually("the audit command waits in XREAD", || async {
        redis
            .cli(&["CLIENT", "LIST"])
            .unwrap()
            .contains("cmd=xread")
    })
    .await;
    assert!(follow.try_wait().unwrap().is_none(), "still following");
    follow.kill().unwrap();
    follow.wait().unwrap();
    assert_eq!(
        redis.cli(&["ACL", "LOG"]).unwrap().trim(),
        "",
        "XREAD was refused"
    );
}

#[tokio::test]
async fn tls_and_the_documented_acl_rule_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let (setup, ca) = secured(&dir);
    let cluster = RedisCluster::start_with(setup);
    let mut config = base_config();
    config.store.redis_cluster = cluster.urls().iter().map(|u| as_lg(u).into()).collect();
    config.store.redis_ca = Some(ca);
    whole_flow(config, || {
        cluster
            .nodes
            .iter()
            .map(|n| n.cli(&["ACL", "LOG"]).unwrap())
            .collect()
    })
    .await;
}

/// Without `--redis-ca` the private CA is not trusted: the store is unready.
#[tokio::test]
async fn an_untrusted_certificate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_redis, config, _ca) = secured_standalone(&dir);
    let app = loginguard::startup::App::build(config).await.unwrap();
    let addr = app.local_addr().to_string();
    let cancel = tokio_util::sync::CancellationToken::new();
    tokio::spawn(app.run(cancel.clone()));
    let client = TestApp::remote(&addr);
    assert_eq!(client.get("/readyz", None).await.status, 503);
    client
        .login("user1", "password1", "x")
        .await
        .error(503, "store_unavailable");
    cancel.cancel();
}

/// The rule gives what loginguard needs and nothing else.
#[tokio::test]
async fn the_documented_acl_rule_refuses_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let mut setup = Setup::default();
    apply_acl(dir.path(), &mut setup);
    let redis = RedisServer::start_with(setup);
    redis.cli(&["SET", "other:secret", "x"]).unwrap();
    let as_lg = |args: &[&str]| {
        let mut all = vec!["--user", LG_USER, "--pass", LG_PASSWORD];
        all.extend_from_slice(args);
        redis.cli(&all).unwrap()
    };
    assert_eq!(as_lg(&["PING"]).trim(), "PONG");
    for refused in [
        &["FLUSHALL"][..],
        &["KEYS", "*"],
        &["GET", "other:secret"],
        &["HGETALL", "other:secret"],
        &["DEL", "other:secret"],
        &["PUBLISH", "other", "x"],
        &["EVAL", "return 1", "0"],
        &["CONFIG", "SET", "maxmemory", "1"],
        &["ACL", "LIST"],
        &["SCRIPT", "FLUSH"],
    ] {
        let out = as_lg(refused);
        assert!(out.contains("NOPERM"), "{refused:?} answered {out:?}");
    }
    // Lua runs as the caller: a script cannot reach past the rule either.
    let sha = as_lg(&["SCRIPT", "LOAD", "return redis.call('GET', KEYS[1])"]);
    let out = as_lg(&["EVALSHA", sha.trim(), "1", "other:secret"]);
    assert!(
        out.contains("NOPERM") || out.contains("permissions"),
        "{out:?}"
    );
    assert!(redis.cli(&["GET", "other:secret"]).unwrap().contains('x'));
}
