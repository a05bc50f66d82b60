//! What loginguard needs of its Redis (7.0+, `maxmemory-policy noeviction`),
//! checked at start-up and whenever the store reconnects: an evicting Redis
//! is refused unless `--allow-evicting-redis` says otherwise.

use std::time::Duration;

use crate::helpers::*;
use crate::process::{serve_refused, Proc};
use crate::redis_server::{RedisCluster, RedisServer};

fn set_policy(redis: &RedisServer, policy: &str) {
    let out = redis.cli(&["CONFIG", "SET", "maxmemory-policy", policy]);
    assert_eq!(out.as_deref().map(str::trim), Some("OK"));
}

#[tokio::test]
async fn an_evicting_redis_is_refused_at_start_up_unless_allowed() {
    let redis = RedisServer::start();
    set_policy(&redis, "allkeys-lru");
    let (status, stderr) = serve_refused(&["--redis", &redis.url()], Duration::from_secs(20));
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains("maxmemory-policy is allkeys-lru") && stderr.contains("noeviction"),
        "a clear message: {stderr}"
    );

    set_policy(&redis, "volatile-ttl");
    let (status, stderr) = serve_refused(&["--redis", &redis.url()], Duration::from_secs(20));
    assert!(
        !status.success() && stderr.contains("volatile-ttl"),
        "{stderr}"
    );

    let allowed = Proc::serve(&["--redis", &redis.url(), "--allow-evicting-redis"]);
    let http = reqwest::Client::new();
    eventually("the allowed instance is ready", || async {
        let url = format!("http://{}/readyz", allowed.addr);
        http.get(&url).send().await.is_ok_and(|r| r.status() == 200)
    })
    .await;
}

#[tokio::test]
async fn a_redis_that_turns_evicting_makes_the_instance_unready_after_a_reconnect() {
    let redis = RedisServer::start();
    let app = spawn_app(redis_config(&redis)).await;
    set_policy(&redis, "allkeys-lru");
    // Drop the store's connection: it reconnects and asks again.
    redis.cli(&["CLIENT", "KILL", "TYPE", "normal"]);
    eventually("not ready", || async {
        app.get("/readyz", None).await.status == 503
    })
    .await;
    for _ in 0..10 {
        app.get("/readyz", None)
            .await
            .error(503, "store_unavailable");
    }

    set_policy(&redis, "noeviction");
    redis.cli(&["CLIENT", "KILL", "TYPE", "normal"]);
    eventually("ready again", || async {
        app.get("/readyz", None).await.status == 200
    })
    .await;
}

/// Where an ACL forbids `CONFIG`, the policy cannot be checked: the instance
/// runs (and logs a warning) rather than refusing a Redis it cannot see into.
#[tokio::test]
async fn a_redis_that_forbids_config_is_not_refused() {
    let redis = RedisServer::start();
    let acl = [
        "ACL", "SETUSER", "lg", "on", ">secret", "~*", "&*", "+@all", "-config",
    ];
    assert_eq!(redis.cli(&acl).as_deref().map(str::trim), Some("OK"));
    let mut config = base_config();
    config.store.redis = Some(format!("redis://lg:secret@127.0.0.1:{}/0", redis.port).into());
    let app = spawn_app(config).await;
    assert_eq!(app.get("/readyz", None).await.status, 200);
}

/// On a cluster every master is asked: one evicting master is enough.
#[tokio::test]
async fn every_master_of_a_cluster_is_checked() {
    let cluster = RedisCluster::start();
    let last = cluster.nodes.last().expect("a master");
    set_policy(last, "volatile-lru");
    let err = loginguard::startup::App::build(cluster_config(&cluster))
        .await
        .err()
        .expect("refused");
    let message = err.to_string();
    assert!(
        message.contains(&format!(":{}: maxmemory-policy is volatile-lru", last.port)),
        "{message}"
    );
}
