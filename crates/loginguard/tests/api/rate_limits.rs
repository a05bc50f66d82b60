//! Failed-sign-in limits across instances, and the device-token defence
//! against lock-outs (PROTOCOL.md "Hostile clients"; OWASP "device cookies").
//!
//! Two instances on one real Redis (standalone, and a 3-master cluster where
//! the IP's and the account's counters live in different slots) must share
//! one count, in sequence and in a parallel burst. A browser that signed in
//! before keeps signing in while failures from elsewhere lock its account.

use loginguard::config::Config;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::redis_server::{RedisCluster, RedisServer};

/// Failed sign-ins allowed per account (and per trusted device) in these tests.
const LIMIT: u32 = 4;
/// A shared signing key, as every instance of one deployment gets.
const KEY: &str = "a device cookie key for the tests, 32+ bytes";
const ATTACKER: &str = "203.0.113.7";
const OWNER: &str = "198.51.100.2";
const ELSEWHERE: &str = "192.0.2.9";

/// `n` instances on `config`'s store: one clock, one device key, the client
/// IP from `X-Forwarded-For`, only the per-account limit on.
async fn instances(config: Config, n: usize) -> Vec<TestApp> {
    let clock = std::sync::Arc::new(loginguard::domain::ManualClock::new());
    let mut apps = Vec::new();
    for _ in 0..n {
        let mut c = config.clone();
        c.http.trust_forwarded_for = true;
        c.limits.rate_limit_ip = 0;
        c.limits.rate_limit_account = LIMIT;
        c.limits.device_cookie_key = Some(KEY.to_owned().into());
        apps.push(spawn_app_with_clock(c, clock.clone()).await);
    }
    apps
}

/// A sign-in from `ip`, with `device_token` when given.
async fn sign_in(
    app: &TestApp,
    ip: &str,
    user: &str,
    password: &str,
    device: Option<&str>,
) -> Reply {
    let mut body = json!({"username": user, "password": password});
    if let Some(t) = device {
        body["device_token"] = Value::from(t);
    }
    app.login_body_from(ip, body).await
}

/// The device token of a successful sign-in.
fn device_token(reply: &Reply) -> String {
    reply.token();
    let t = reply.body["device_token"].as_str().expect("device_token");
    t.to_owned()
}

async fn failures_spread_over_instances_share_one_limit(config: Config) {
    let apps = instances(config, 2).await;
    for i in 0..LIMIT as usize {
        sign_in(&apps[i % 2], ATTACKER, "user1", "guess", None)
            .await
            .error(401, "invalid_credentials");
    }
    for app in &apps {
        let refused = sign_in(app, ELSEWHERE, "user1", "password1", None).await;
        refused.error(429, "rate_limited");
        assert!(refused.retry_after() > 1, "refused for the failures");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_spread_over_instances_share_one_limit_standalone() {
    let redis = RedisServer::start();
    failures_spread_over_instances_share_one_limit(redis_config(&redis)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_spread_over_instances_share_one_limit_cluster() {
    let cluster = RedisCluster::start();
    failures_spread_over_instances_share_one_limit(cluster_config(&cluster)).await;
}

/// Checks in flight count in the store too: a burst spread over instances
/// gets exactly the limit's worth of guesses checked.
async fn a_burst_over_instances_cannot_pass_the_limit(config: Config) {
    let apps = instances(config, 2).await;
    let guesses = (0..24).map(|i| {
        let app = &apps[i % 2];
        async move {
            let password = format!("guess{i}");
            sign_in(app, ATTACKER, "user1", &password, None)
                .await
                .status
        }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(
        (checked, limited),
        (LIMIT as usize, 24 - LIMIT as usize),
        "{statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_over_instances_cannot_pass_the_limit_standalone() {
    let redis = RedisServer::start();
    a_burst_over_instances_cannot_pass_the_limit(redis_config(&redis)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_over_instances_cannot_pass_the_limit_cluster() {
    let cluster = RedisCluster::start();
    a_burst_over_instances_cannot_pass_the_limit(cluster_config(&cluster)).await;
}

/// Flips one character of the signature.
fn tampered(token: &str) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    let last = chars.last_mut().expect("not empty");
    *last = if *last == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_device_signs_in_while_failures_from_elsewhere_lock_the_account() {
    let redis = RedisServer::start();
    let apps = instances(redis_config(&redis), 2).await;
    let (a, b) = (&apps[0], &apps[1]);
    let kept = device_token(&sign_in(a, OWNER, "user1", "password1", None).await);
    let other_account = device_token(&sign_in(a, OWNER, "user2", "password2", None).await);

    for _ in 0..LIMIT {
        sign_in(b, ATTACKER, "user1", "guess", None)
            .await
            .error(401, "invalid_credentials");
    }
    sign_in(b, ATTACKER, "user1", "password1", None)
        .await
        .error(429, "rate_limited");
    // Locked for every client without a valid token of this account...
    for device in [None, Some(tampered(&kept)), Some(other_account)] {
        sign_in(b, ELSEWHERE, "user1", "password1", device.as_deref())
            .await
            .error(429, "rate_limited");
    }
    // ...but not for the browser that signed in before, on either instance,
    // which gets a fresh token each time.
    let renewed = device_token(&sign_in(b, ELSEWHERE, "user1", "password1", Some(&kept)).await);
    assert_ne!(renewed, kept);
    device_token(&sign_in(a, ELSEWHERE, "user1", "password1", Some(&renewed)).await);
}

#[tokio::test]
async fn a_device_token_that_keeps_failing_is_locked_out_itself() {
    let apps = instances(base_config(), 1).await;
    let app = &apps[0];
    let kept = device_token(&sign_in(app, OWNER, "user1", "password1", None).await);
    for _ in 0..LIMIT {
        sign_in(app, ATTACKER, "user1", "guess", Some(&kept))
            .await
            .error(401, "invalid_credentials");
    }
    sign_in(app, OWNER, "user1", "password1", Some(&kept))
        .await
        .error(429, "rate_limited");
    // Its failures were its own: the account's counter is untouched.
    device_token(&sign_in(app, OWNER, "user1", "password1", None).await);
}

#[tokio::test]
async fn device_tokens_are_checked_for_shape_and_an_empty_one_is_none() {
    let apps = instances(base_config(), 1).await;
    let app = &apps[0];
    let long = "a".repeat(129);
    for bad in ["not a token!", "v1.{x}", long.as_str()] {
        let e = sign_in(app, OWNER, "user1", "password1", Some(bad)).await;
        e.error(400, "bad_request");
    }
    device_token(&sign_in(app, OWNER, "user1", "password1", Some("")).await);
    device_token(&sign_in(app, OWNER, "user1", "password1", Some("v9.unknown-layout")).await);
}
