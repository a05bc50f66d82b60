//! Signed webhooks end to end (PROTOCOL.md Part 2 "Webhooks"): the real
//! binary, real `redis-server`s and a receiver started here.
//!
//! Signatures verify, the body has the contract's shape, a 500 is retried
//! with the same `webhook-id`, two instances on one Redis deliver each event
//! once, a delivery whose instance was killed mid-retry is made by another,
//! the memory store delivers, a receiver that never answers does not slow
//! sign-ins, SIGHUP reloads the file, and `check-config` names bad lines.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::helpers::*;
use crate::process::{run, Proc};
use crate::redis_server::{RedisCluster, RedisServer};
use crate::webhook_receiver::{verifies, Answer, Receiver, SECRET};

const ALL: &[&str] = &["session.created", "session.revoked", "session.denied"];

/// Long enough for the first retry (at most 10 s after a failure) and a
/// lease to run out.
const RETRY_WAIT: Duration = Duration::from_secs(30);

async fn wait_for_hooks(receiver: &Receiver, n: usize, wait: Duration) {
    eventually_within(&format!("{n} webhooks"), wait, || async {
        receiver.got().len() >= n
    })
    .await;
}

async fn metrics(app: &TestApp) -> String {
    app.http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn memory_store_delivers_signed_events_of_every_type() {
    let receiver = Receiver::start(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = receiver.file(dir.path(), ALL);
    let proc = Proc::serve(&[
        "--webhooks",
        file.to_str().unwrap(),
        "--on-limit",
        "deny_new",
    ]);
    let app = TestApp::remote(&proc.addr);

    let token = app.login_ok("user1", "PC1").await;
    app.login("user1", "password1", "PC2")
        .await
        .error(409, "session_limit_reached");
    assert_eq!(app.logout(&token).await.status, 204);
    wait_for_hooks(&receiver, 3, WAIT).await;

    let got = receiver.got();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for hook in &got {
        assert!(verifies(hook, SECRET), "bad signature on {hook:?}");
        assert!(hook.id.starts_with("msg_"), "{hook:?}");
        let ts: u64 = hook.timestamp.parse().expect("Unix seconds");
        assert!(ts.abs_diff(now) < 60, "{ts} vs {now}");
        assert!(hook.body["timestamp"].as_str().unwrap().ends_with('Z'));
        assert_eq!(hook.body["data"]["username"], "user1", "{}", hook.body);
        assert_eq!(hook.body["data"]["ip"], "127.0.0.1", "{}", hook.body);
        for field in ["session_id", "device", "device_class", "reason", "by"] {
            assert!(
                hook.body["data"].get(field).is_some(),
                "{field} in {}",
                hook.body
            );
        }
    }
    let of_type = |t: &str| got.iter().find(|h| h.body["type"] == t).cloned().unwrap();
    let created = of_type("session.created");
    assert_eq!(created.body["data"]["device"], "PC1");
    assert_eq!(created.body["data"]["device_class"], "web");
    assert!(created.body["data"]["session_id"]
        .as_str()
        .unwrap()
        .starts_with("s_"));
    assert_eq!(of_type("session.denied").body["data"]["device"], "PC2");
    let revoked = of_type("session.revoked");
    assert_eq!(revoked.body["data"]["reason"], "logout");
    assert_eq!(
        revoked.body["data"]["session_id"],
        created.body["data"]["session_id"]
    );
    let ids: HashSet<_> = got.iter().map(|h| h.id.clone()).collect();
    assert_eq!(ids.len(), 3, "one id per event");
    // A receiver holding another secret finds no signature it can check.
    let other = "whsec_c2Vjb25kIHNlY3JldCBvZiAyNCBieXRlcyE=";
    assert!(!verifies(&created, other));

    // The receiver records a request before it answers: the count follows.
    eventually("three deliveries counted", || async {
        metrics(&app)
            .await
            .contains("loginguard_webhook_deliveries_total{result=\"delivered\"} 3")
    })
    .await;
}

#[tokio::test]
async fn a_refused_delivery_is_retried_with_the_same_webhook_id() {
    let redis = RedisServer::start();
    let receiver = Receiver::start(&[Answer::Status(500)]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = receiver.file(dir.path(), &["session.created"]);
    let proc = Proc::serve(&[
        "--redis",
        &redis.url(),
        "--webhooks",
        file.to_str().unwrap(),
    ]);
    let app = TestApp::remote(&proc.addr);

    app.login_ok("user1", "PC1").await;
    wait_for_hooks(&receiver, 2, RETRY_WAIT).await;
    let got = receiver.got();
    assert_eq!(got[0].id, got[1].id, "a retry keeps its webhook-id");
    assert_eq!(got[0].raw, got[1].raw, "and its body");
    assert!(verifies(&got[1], SECRET));
    let gap = got[1].at - got[0].at;
    assert!(gap <= Duration::from_secs(11), "first retry after {gap:?}");
    eventually("the retry counted as delivered", || async {
        let text = metrics(&app).await;
        text.contains("loginguard_webhook_deliveries_total{result=\"refused\"} 1")
            && text.contains("loginguard_webhook_deliveries_total{result=\"delivered\"} 1")
    })
    .await;
}

#[tokio::test]
async fn two_instances_on_one_redis_deliver_each_event_once() {
    let redis = RedisServer::start();
    let receiver = Receiver::start(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = receiver.file(dir.path(), ALL);
    let args = [
        "--redis",
        &redis.url(),
        "--webhooks",
        file.to_str().unwrap(),
    ];
    let procs = [Proc::serve(&args), Proc::serve(&args)];
    let apps: Vec<TestApp> = procs.iter().map(|p| TestApp::remote(&p.addr)).collect();

    let rounds = 6;
    for i in 0..rounds {
        apps[i % 2].login_ok("user1", &format!("PC{i}")).await;
    }
    // Each sign-in made a session; each but the first pushed one out.
    let events = 2 * rounds - 1;
    wait_for_hooks(&receiver, events, RETRY_WAIT).await;
    // Give a second delivery (if any instance were to make one) time to land.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got = receiver.got();
    let ids: HashSet<_> = got.iter().map(|h| h.id.clone()).collect();
    assert_eq!(ids.len(), events, "{got:#?}");
    assert_eq!(got.len(), events, "an event was delivered twice: {got:#?}");
    let reasons: Vec<_> = got
        .iter()
        .filter(|h| h.body["type"] == "session.revoked")
        .map(|h| h.body["data"]["reason"].clone())
        .collect();
    assert!(
        reasons.iter().all(|r| r == "duplicate_login"),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn a_cluster_delivers_and_retries() {
    // The audit stream and the schedule each sit in their own slot: every
    // command and script here must stay within one.
    let cluster = RedisCluster::start();
    let receiver = Receiver::start(&[Answer::Status(503)]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = receiver.file(dir.path(), ALL);
    let nodes = cluster.urls().join(",");
    let args = [
        "--redis-cluster",
        &nodes,
        "--webhooks",
        file.to_str().unwrap(),
    ];
    let procs = [Proc::serve(&args), Proc::serve(&args)];
    let app = TestApp::remote(&procs[0].addr);
    let token = app.login_ok("user1", "PC1").await;
    TestApp::remote(&procs[1].addr).logout(&token).await;
    // created (refused once, then retried) and revoked.
    wait_for_hooks(&receiver, 3, RETRY_WAIT).await;
    let got = receiver.got();
    let ids: HashSet<_> = got.iter().map(|h| h.id.clone()).collect();
    assert_eq!(ids.len(), 2, "{got:#?}");
    assert!(got.iter().all(|h| verifies(h, SECRET)));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(receiver.got().len(), 3, "nothing delivered twice");
}

#[tokio::test]
async fn a_delivery_whose_instance_died_mid_retry_is_made_by_another() {
    let redis = RedisServer::start();
    let receiver = Receiver::start(&[Answer::Status(500), Answer::Hang]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = receiver.file(dir.path(), &["session.created"]);
    let args = [
        "--redis",
        &redis.url(),
        "--webhooks",
        file.to_str().unwrap(),
        "--webhook-timeout",
        "3s",
    ];
    let first = Proc::serve(&args);
    TestApp::remote(&first.addr).login_ok("user1", "PC1").await;
    // The first attempt fails, the retry hangs: the instance is mid-retry.
    wait_for_hooks(&receiver, 2, RETRY_WAIT).await;
    first.signal("KILL");
    let second = Proc::serve(&args);
    wait_for_hooks(&receiver, 3, RETRY_WAIT).await;
    let got = receiver.got();
    assert!(got.iter().all(|h| h.id == got[0].id), "{got:#?}");
    assert!(verifies(&got[2], SECRET));
    // Delivered now: nothing more comes.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.got().len(), 3);
    drop(second);
}

#[tokio::test]
async fn a_receiver_that_never_answers_does_not_slow_sign_ins() {
    let receiver = Receiver::start(&[Answer::Hang; 64]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = receiver.file(dir.path(), ALL);
    let proc = Proc::serve(&[
        "--webhooks",
        file.to_str().unwrap(),
        "--webhook-timeout",
        "60s",
    ]);
    let app = TestApp::remote(&proc.addr);
    let mut slowest = Duration::ZERO;
    for i in 0..10 {
        let started = Instant::now();
        app.login_ok("user1", &format!("PC{i}")).await;
        slowest = slowest.max(started.elapsed());
    }
    assert!(
        slowest < Duration::from_secs(2),
        "a sign-in took {slowest:?}"
    );
    eventually("the backlog shows in the metrics", || async {
        let text = metrics(&app).await;
        text.lines().any(|l| {
            l.strip_prefix("loginguard_webhook_queue_depth ")
                .is_some_and(|v| v.parse::<u64>().unwrap_or(0) >= 19)
        })
    })
    .await;
}

#[tokio::test]
async fn sighup_reloads_the_webhooks_file() {
    let before = Receiver::start(&[]).await;
    let after = Receiver::start(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = before.file(dir.path(), &["session.created"]);
    let proc = Proc::serve(&["--webhooks", file.to_str().unwrap()]);
    let app = TestApp::remote(&proc.addr);
    app.login_ok("user1", "PC1").await;
    wait_for_hooks(&before, 1, WAIT).await;

    std::fs::write(&file, "[[webhook]]\nurl = 1\n").unwrap();
    proc.signal("HUP");
    eventually("the broken file is refused", || async {
        proc.logged("webhooks file not reloaded")
    })
    .await;
    after.file(dir.path(), &["session.created"]);
    proc.signal("HUP");
    eventually("the new file is in force", || async {
        proc.logged("webhooks file reloaded")
    })
    .await;
    app.login_ok("user2", "PC1").await;
    wait_for_hooks(&after, 1, WAIT).await;
    assert_eq!(after.got()[0].body["data"]["username"], "user2");
    assert_eq!(before.got().len(), 1);
}

#[test]
fn check_config_names_the_line_and_reason_of_a_bad_webhooks_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("webhooks.toml");
    std::fs::write(
        &path,
        format!(
            "# receivers\n\n[[webhook]]\nurl = \"https://a.example/h\"\nsecret = {SECRET:?}\nevents = [\"session.created\"]\n\n[[webhook]]\nurl = \"https://b.example/h\"\nsecret = \"whsec_short\"\nevents = [\"session.revoked\"]\n"
        ),
    )
    .unwrap();
    let file = path.to_str().unwrap();
    let (status, _, err) = run(&["check-config", "--webhooks", file], "");
    assert!(!status.success());
    assert!(
        err.contains("webhook[1]") && err.contains("line 8"),
        "{err}"
    );
    assert!(err.contains("secret"), "{err}");

    std::fs::write(
        &path,
        format!("[[webhook]]\nurl = \"https://a.example/h\"\nsecret = {SECRET:?}\nevents = [\"session.created\"]\n"),
    )
    .unwrap();
    let (status, out, err) = run(&["check-config", "--webhooks", file], "");
    assert!(status.success(), "{err}");
    assert!(
        out.contains("1 endpoints") || err.contains("1 endpoints"),
        "{out}{err}"
    );
}
