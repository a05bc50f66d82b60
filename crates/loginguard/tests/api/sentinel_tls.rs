//! Redis Sentinel over TLS with the documented ACL user: a TLS-only master
//! and replica, three TLS-only Sentinels, loginguard given `rediss://`
//! Sentinel URLs, a `rediss://` master URL and the test CA as `--redis-ca`.
//! Sign-in, validation on the other instance and a kick over WebSocket
//! work; then the master is killed, and afterwards a socket revoked during
//! the failover is kicked, sign-ins resume by themselves, the event bus
//! listens on the new master, and neither data node refused anything
//! (`ACL LOG` empty). Prints the time without service.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::failover::{outage, sign_in_loop};
use crate::helpers::*;
use crate::instances::{instances, PASSWORD};
use crate::redis_sentinel::SentinelGroup;

/// How long the revocation during the failover may keep failing.
const REVOKE_DEADLINE: Duration = Duration::from_secs(30);

fn acl_log_is_empty(node: &crate::redis_server::RedisServer, when: &str) {
    let log = node.cli(&["ACL", "LOG"]).expect("ACL LOG as the admin");
    assert_eq!(
        log.trim(),
        "",
        "Redis refused something loginguard sent ({when})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_over_tls_with_the_documented_acl_fails_over() {
    let mut group = SentinelGroup::start_tls();
    let config = group.app_config();
    assert!(config.store.redis_ca.is_some());
    let dir = tempfile::tempdir().unwrap();
    let users = ["alice".to_owned(), "probe".to_owned()];
    let apps = instances(config, 2, &users, &dir).await;
    let (a, b) = (&apps[0], &apps[1]);

    let t1 = a.login("alice", PASSWORD, "PC1").await.token();
    assert_eq!(b.get("/api/auth/session", Some(&t1)).await.status, 200);
    let mut pc1 = a.ws_authed(&t1).await;
    let t2 = b.login("alice", PASSWORD, "PC2").await.token();
    pc1.expect_force_logout("duplicate_login").await;
    let mut pc2 = a.ws_authed(&t2).await;
    // The nodes serve TLS only, so these connections are TLS, as user lg.
    eventually("both instances listen on the master as lg", || async {
        group.subscribers(&group.master) == 2
    })
    .await;
    acl_log_is_empty(&group.master, "before the failover");

    let stop = Arc::new(AtomicBool::new(false));
    let probes = std::iter::repeat("probe".to_owned());
    let prober = tokio::spawn(sign_in_loop(a.addr.clone(), probes, stop.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(group.master_port(), Some(group.master.port));
    group.master.stop();
    let killed = Instant::now();

    // PC2's sign-out goes through B while there is no master; its socket
    // is on A.
    let deadline = killed + REVOKE_DEADLINE;
    loop {
        let status = b.logout(&t2).await.status;
        if matches!(status, 204 | 401) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the sign-out never went through: {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let revoked = Instant::now();
    pc2.expect_force_logout("logout").await;

    eventually("both instances ready again", || async {
        a.get("/readyz", None).await.status == 200 && b.get("/readyz", None).await.status == 200
    })
    .await;
    assert_eq!(
        group.master_port(),
        Some(group.replica.port),
        "the replica took over"
    );
    eventually("both instances listen on the new master as lg", || async {
        group.subscribers(&group.replica) == 2
    })
    .await;
    let t3 = b.login("alice", PASSWORD, "PC3").await.token();
    assert_eq!(a.get("/api/auth/session", Some(&t3)).await.status, 200);

    stop.store(true, Ordering::Relaxed);
    let tries = prober.await.unwrap();
    let (failed_after, without_service) = outage(&tries, killed);
    acl_log_is_empty(&group.replica, "on the new master");
    println!(
        "sentinel failover over TLS (master SIGKILLed, down-after 1s): sign-ins failed for \
         {without_service:?} (first failure {failed_after:?} after the kill); the sign-out \
         through B went through {:?} after the kill and its socket on A was kicked",
        revoked - killed,
    );
}
