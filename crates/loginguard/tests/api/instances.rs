//! Many instances on one store (standalone Redis and a 3-master cluster):
//! invariants 1-4 across instances, and while Redis misbehaves.

use std::sync::Arc;
use std::time::{Duration, Instant};

use loginguard::config::Config;
use loginguard::domain::ManualClock;
use serde_json::json;

use crate::helpers::*;
use crate::process::{cheap_users_file, Proc};
use crate::redis_server::{RedisCluster, RedisServer};

pub const PASSWORD: &str = "storm-password";

/// `n` instances on `config`'s store sharing one clock, with a cheap users file.
pub async fn instances(
    config: Config,
    n: usize,
    users: &[String],
    dir: &tempfile::TempDir,
) -> Vec<TestApp> {
    let file = cheap_users_file(dir.path(), users, PASSWORD);
    let clock = Arc::new(ManualClock::new());
    let mut apps = Vec::new();
    for _ in 0..n {
        let mut c = config.clone();
        c.accounts.users = Some(file.clone());
        c.limits.rate_limit_ip = 0;
        apps.push(spawn_app_with_clock(c, clock.clone()).await);
    }
    apps
}

pub fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

/// One round: `parallel` sign-ins for `account` spread over `apps`, each
/// opening a socket at once. Afterwards exactly one token works everywhere,
/// the rest are revoked everywhere, and every losing socket was told.
async fn storm_round(apps: &[TestApp], account: &str, parallel: usize) {
    let mut tasks = Vec::new();
    for i in 0..parallel {
        let app = &apps[i % apps.len()];
        let (url, ws_addr) = (app.url("/api/auth/login"), app.addr.clone());
        let http = app.http.clone();
        let account = account.to_owned();
        tasks.push(tokio::spawn(async move {
            let r = http
                .post(url)
                .json(&json!({"username": account, "password": PASSWORD, "device": format!("dev{i}")}))
                .send()
                .await
                .expect("sign-in sent");
            assert_eq!(r.status(), 200);
            let body: serde_json::Value = r.json().await.unwrap();
            let token = body["token"].as_str().unwrap().to_owned();
            let (stream, _) = tokio_tungstenite::connect_async(format!("ws://{ws_addr}/ws")).await.unwrap();
            let mut ws = Ws { stream };
            ws.send_json(json!({"type": "auth", "token": token})).await;
            let first = ws.next_json().await;
            (token, first, ws)
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.expect("storm task"));
    }
    let mut live = 0;
    for (i, (token, first, mut ws)) in results.into_iter().enumerate() {
        let statuses = {
            let mut s = Vec::new();
            for app in apps {
                s.push(app.get("/api/auth/session", Some(&token)).await.status);
            }
            s
        };
        if statuses.iter().all(|s| *s == 200) {
            live += 1;
            assert_eq!(first["type"], "auth_ok");
            ws.send_json(json!({"type": "ping"})).await;
            assert_eq!(
                ws.next_event().await["type"],
                "pong",
                "the winner's socket stays open"
            );
        } else {
            assert!(
                statuses.iter().all(|s| *s == 401),
                "token {i} answers alike everywhere: {statuses:?}"
            );
            let kick = if first["type"] == "force_logout" {
                first
            } else {
                ws.next_event().await
            };
            assert_eq!(kick["type"], "force_logout", "loser {i} is told");
            assert_eq!(kick["reason"], "duplicate_login");
            ws.expect_close_code(4001).await;
        }
    }
    assert_eq!(live, 1, "exactly max_sessions = 1 token survives");
}

async fn storm(config: Config) {
    let dir = tempfile::tempdir().unwrap();
    let accounts = names("storm", 20);
    let apps = instances(config, 3, &accounts, &dir).await;
    for account in &accounts {
        storm_round(&apps, account, 200).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inv1_storm_of_200_over_3_instances_20_rounds_standalone() {
    let redis = RedisServer::start();
    storm(redis_config(&redis)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inv1_storm_of_200_over_3_instances_20_rounds_cluster() {
    let cluster = RedisCluster::start();
    storm(cluster_config(&cluster)).await;
}

/// PC1's socket on A, PC2 signs in on C: PC1 is kicked. Prints the delays.
async fn cross_instance_kick(config: Config, label: &str) {
    let dir = tempfile::tempdir().unwrap();
    let users = names("pc", 20);
    let apps = instances(config, 3, &users, &dir).await;
    let (a, c) = (&apps[0], &apps[2]);
    let mut delays = Vec::new();
    for user in &users {
        let t1 = a.login(user, PASSWORD, "PC1").await.token();
        let mut pc1 = a.ws_authed(&t1).await;
        let started = Instant::now();
        let r = c.login(user, PASSWORD, "PC2").await;
        assert_eq!(r.status, 200);
        let kick = pc1.expect_force_logout("duplicate_login").await;
        delays.push(started.elapsed());
        assert_eq!(kick["by"]["device"], "PC2");
    }
    delays.sort();
    println!(
        "cross-instance kick ({label}): sign-in sent on C -> force_logout on A: p50 {:?}, max {:?} over {} kicks (includes the argon2 check)",
        delays[delays.len() / 2],
        delays[delays.len() - 1],
        delays.len()
    );
}

#[tokio::test]
async fn cross_instance_kick_standalone() {
    let redis = RedisServer::start();
    cross_instance_kick(redis_config(&redis), "standalone").await;
}

#[tokio::test]
async fn cross_instance_kick_cluster() {
    let cluster = RedisCluster::start();
    cross_instance_kick(cluster_config(&cluster), "cluster").await;
}

#[tokio::test]
async fn connection_counts_are_cluster_wide() {
    let redis = RedisServer::start();
    let mut config = redis_config(&redis);
    config.ws.presence_interval = Duration::from_millis(100);
    config.session.max_sessions = 2;
    let dir = tempfile::tempdir().unwrap();
    let apps = instances(config, 2, &names("user", 1), &dir).await;
    let (a, b) = (&apps[0], &apps[1]);
    let t1 = a.login("user0", PASSWORD, "PC1").await.token();
    let t2 = b.login("user0", PASSWORD, "PC2").await.token();
    let _on_a = a.ws_authed(&t1).await;
    let _on_b1 = b.ws_authed(&t1).await;
    let _on_b2 = b.ws_authed(&t2).await;
    let counts = |list: Vec<serde_json::Value>| {
        let mut c: Vec<(String, u64)> = list
            .iter()
            .map(|s| {
                (
                    s["device"].as_str().unwrap().to_owned(),
                    s["connections"].as_u64().unwrap(),
                )
            })
            .collect();
        c.sort();
        c
    };
    let want = vec![("PC1".to_owned(), 2), ("PC2".to_owned(), 1)];
    eventually("counts add up across instances", || async {
        counts(a.sessions(&t1).await) == want && counts(b.sessions(&t2).await) == want
    })
    .await;
}

/// Pub/sub is at-most-once: kill the subscription while revocations happen
/// and check that every socket is still kicked (invariant 4).
#[tokio::test]
async fn inv4_pubsub_kill_loses_no_kick() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let users = names("k", 30);
    let apps = instances(redis_config(&redis), 2, &users, &dir).await;
    let (a, b) = (&apps[0], &apps[1]);
    let mut sockets = Vec::new();
    for user in &users {
        let t = a.login(user, PASSWORD, "victim").await.token();
        sockets.push((t.clone(), a.ws_authed(&t).await));
    }
    let started = Instant::now();
    for (i, (token, _)) in sockets.iter().enumerate() {
        if i % 10 == 0 {
            eventually("both instances subscribed", || async {
                let list = redis
                    .cli(&["CLIENT", "LIST", "TYPE", "pubsub"])
                    .unwrap_or_default();
                list.lines().filter(|l| l.contains("sub=1")).count() == 2
            })
            .await;
            let killed = redis.cli(&["CLIENT", "KILL", "TYPE", "pubsub"]).unwrap();
            assert_eq!(killed.trim(), "2", "both subscriptions were killed");
        }
        assert_eq!(b.logout(token).await.status, 204);
    }
    let mut worst = Duration::ZERO;
    for (_, ws) in sockets.iter_mut() {
        ws.expect_force_logout("logout").await;
        worst = worst.max(started.elapsed());
    }
    println!("pub/sub killed 3 times during 30 revocations: all 30 kicked, last after {worst:?}");
}

/// Redis goes away and comes back: readiness follows, open sockets stay open
/// during the outage, sign-ins resume, and a revocation made while this
/// instance was still resubscribing reaches its socket.
#[tokio::test]
async fn inv4_redis_restart_recovers_by_itself() {
    let mut redis = RedisServer::start_persistent();
    let dir = tempfile::tempdir().unwrap();
    let apps = instances(redis_config(&redis), 2, &names("r", 2), &dir).await;
    let (a, b) = (&apps[0], &apps[1]);
    let t0 = a.login("r0", PASSWORD, "PC1").await.token();
    let mut ws = a.ws_authed(&t0).await;

    redis.stop();
    eventually("not ready while redis is down", || async {
        a.get("/readyz", None).await.status == 503
    })
    .await;
    a.login("r1", PASSWORD, "x")
        .await
        .error(503, "store_unavailable");
    ws.send_json(json!({"type": "ping"})).await;
    assert_eq!(
        ws.next_event().await["type"],
        "pong",
        "an outage does not sign anyone out"
    );

    redis.restart();
    let back = Instant::now();
    eventually("b ready", || async {
        b.get("/readyz", None).await.status == 200
    })
    .await;
    assert_eq!(b.logout(&t0).await.status, 204);
    ws.expect_force_logout("logout").await;
    println!(
        "redis restart: revocation on B reached A's socket {:?} after Redis was back",
        back.elapsed()
    );
    eventually("a ready again", || async {
        a.get("/readyz", None).await.status == 200
    })
    .await;
    a.login("r1", PASSWORD, "after").await.token();
}

/// SIGKILL one instance: the others keep serving and kicking.
#[tokio::test]
async fn killing_one_instance_leaves_the_others_unaffected() {
    let redis = RedisServer::start();
    let url = redis.url();
    let mut doomed = Proc::serve(&["--redis", &url]);
    let survivor = spawn_app(redis_config(&redis)).await;
    let t1 = survivor.login_ok("user1", "PC1").await;
    let mut ws = survivor.ws_authed(&t1).await;
    let http = reqwest::Client::new();
    let on_doomed = http
        .post(format!("http://{}/api/auth/login", doomed.addr))
        .json(&json!({"username": "user2", "password": "password2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(on_doomed.status(), 200);

    doomed.signal("KILL");
    doomed.wait_exit(Duration::from_secs(5));
    ws.send_json(json!({"type": "ping"})).await;
    assert_eq!(ws.next_event().await["type"], "pong");
    survivor.login_ok("user1", "PC2").await;
    ws.expect_force_logout("duplicate_login").await;
    assert_eq!(survivor.get("/readyz", None).await.status, 200);
}

/// SIGTERM: sockets get 1012 (reconnect elsewhere), the process exits 0 in
/// time even with a client stuck mid-request.
#[tokio::test]
async fn sigterm_closes_sockets_with_1012_and_exits_0() {
    let mut proc = Proc::serve(&[]);
    let http = reqwest::Client::new();
    let r: serde_json::Value = http
        .post(format!("http://{}/api/auth/login", proc.addr))
        .json(&json!({"username": "user1", "password": "password1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (stream, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", proc.addr))
        .await
        .unwrap();
    let mut ws = Ws { stream };
    ws.send_json(json!({"type": "auth", "token": r["token"]}))
        .await;
    assert_eq!(ws.next_json().await["type"], "auth_ok");
    // A client that never finishes its request must not hold shutdown up.
    let mut stalled = tokio::net::TcpStream::connect(&proc.addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stalled, b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    proc.signal("TERM");
    ws.expect_close_code(1012).await;
    let status = proc.wait_exit(Duration::from_secs(15));
    assert!(status.success(), "exit status {status:?}");
}
