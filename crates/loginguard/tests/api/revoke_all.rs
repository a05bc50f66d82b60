//! `DELETE /api/admin/sessions?confirm=all` from outside: two instances on
//! one Redis (standalone, then a 3-master Cluster), sockets on both, and
//! every one of them told `revoked_by_admin` whichever instance the admin
//! asked; without the confirmation nothing happens.

use std::sync::Arc;
use std::time::Duration;

use loginguard::config::Config;
use loginguard::domain::{ManualClock, OnLimit};

use crate::helpers::*;
use crate::redis_server::{RedisCluster, RedisServer};

async fn signs_everyone_out_on_every_instance(config: Config) {
    let config = with_policy(config, 3, OnLimit::KickOldest);
    // One clock, as real instances share time: the call ends what was
    // created up to its start.
    let clock = Arc::new(ManualClock::new());
    let a = spawn_app_with_clock(config.clone(), clock.clone()).await;
    let b = spawn_app_with_clock(config, clock.clone()).await;
    let user1_a = a.login_ok("user1", "PC").await;
    let user1_b = b.login_ok("user1", "Phone").await;
    let user2_b = b.login_ok("user2", "PC").await;
    let admin = a.login_ok("admin", "Console").await;
    // One session with a socket on each instance, and one socket per other session.
    let mut sockets = vec![
        a.ws_authed(&user1_a).await,
        b.ws_authed(&user1_a).await,
        b.ws_authed(&user1_b).await,
        a.ws_authed(&user2_b).await,
        b.ws_authed(&admin).await,
    ];

    for query in ["", "?confirm=yes", "?confirm=", "?confirm=ALL"] {
        a.delete(&format!("/api/admin/sessions{query}"), Some(&admin))
            .await
            .error(400, "confirmation_required");
    }
    b.delete("/api/admin/sessions?confirm=all", Some(&user2_b))
        .await
        .error(403, "forbidden");
    b.delete("/api/admin/sessions?confirm=all", None)
        .await
        .error(401, "unauthorized");
    assert_eq!(
        a.get("/api/auth/session", Some(&user1_a)).await.status,
        200,
        "refused requests change nothing"
    );

    let reply = a
        .delete("/api/admin/sessions?confirm=all", Some(&admin))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body, serde_json::json!({"revoked": 4}));
    for ws in &mut sockets {
        ws.expect_force_logout("revoked_by_admin").await;
    }
    for token in [&user1_a, &user1_b, &user2_b, &admin] {
        for app in [&a, &b] {
            let err = app.get("/api/auth/session", Some(token)).await;
            let err = err.error(401, "session_revoked");
            assert_eq!(err["reason"], "revoked_by_admin", "{err}");
        }
    }

    // Signing in again works, and the trail holds one entry per ended session.
    clock.advance(Duration::from_millis(1));
    let admin = b.login_ok("admin", "Console").await;
    let page = b.get("/api/admin/audit?limit=100", Some(&admin)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let revoked = page.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "revoked" && e["reason"] == "revoked_by_admin")
        .count();
    assert_eq!(revoked, 4, "{}", page.body);
    assert_eq!(
        b.delete("/api/admin/sessions?confirm=all", Some(&admin))
            .await
            .body,
        serde_json::json!({"revoked": 1}),
        "only the new session was left"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_socket_on_two_redis_instances_is_told() {
    let redis = RedisServer::start();
    signs_everyone_out_on_every_instance(redis_config(&redis)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_socket_on_two_cluster_instances_is_told() {
    let cluster = RedisCluster::start();
    signs_everyone_out_on_every_instance(cluster_config(&cluster)).await;
}
