//! Hostile sign-ins (PROTOCOL.md, "Hostile clients"): a client that sends a
//! guess and hangs up before the answer still spends one of its IP's failed
//! attempts, and its abandoned checks do not queue up in front of others.
//!
//! The attacker writes raw HTTP on its own TCP connections and closes them,
//! so the server sees a real disconnect while the check is queued or running.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::helpers::*;

/// The attacker's address, as the trusted proxy reports it.
const ATTACKER: &str = "203.0.113.7";
/// Failed sign-ins allowed per IP in these tests.
const IP_LIMIT: u32 = 10;
/// How long the attacker waits for an answer before hanging up.
const PATIENCE: Duration = Duration::from_millis(50);

/// Sends one wrong-password sign-in from `ATTACKER` and hangs up after
/// `PATIENCE`, before the answer can come.
async fn abandoned_sign_in(app: &TestApp, user: &str) {
    let body = json!({"username": user, "password": "guess", "device": "x"}).to_string();
    let request = format!(
        "POST /api/auth/login HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         X-Forwarded-For: {ATTACKER}\r\nContent-Length: {}\r\n\r\n{body}",
        app.addr,
        body.len()
    );
    let mut stream = TcpStream::connect(&app.addr).await.expect("connects");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("request written");
    // The client's patience is the scenario, not a wait for a condition.
    tokio::time::sleep(PATIENCE).await;
}

#[tokio::test]
async fn abandoned_wrong_passwords_count_and_do_not_delay_others() {
    let mut config = base_config();
    config.http.trust_forwarded_for = true;
    config.limits.rate_limit_ip = IP_LIMIT;
    config.limits.rate_limit_account = 0;
    let app = spawn_app(config).await;

    // Known and unknown accounts alike: both cost a hash and a failure.
    let flood = (0..IP_LIMIT + 5).map(|i| {
        let user = if i % 2 == 0 {
            "user1".to_owned()
        } else {
            format!("nobody{i}")
        };
        let app = &app;
        async move { abandoned_sign_in(app, &user).await }
    });
    futures_util::future::join_all(flood).await;

    let started = Instant::now();
    app.login_from("198.51.100.2", "user2", "password2")
        .await
        .token();
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(3),
        "a legitimate sign-in took {took:?} after the flood"
    );

    // The abandoned checks finish in the background; the limiter holds this
    // one until they have, then refuses it.
    let refused = app.login_from(ATTACKER, "user1", "one more guess").await;
    refused.error(429, "rate_limited");
    // Refused for its failures (the window's remainder), not for a wait
    // that ran out (1 s).
    let retry = refused.retry_after();
    assert!(retry > 1, "retry-after {retry}");
}
