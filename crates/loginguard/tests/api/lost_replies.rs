//! Sign-ins whose store reply is lost: Redis runs the script, but its answer
//! comes after the call timeout (a proxy holds Redis's replies). PROTOCOL.md
//! Part 2: the 503 that follows means nothing was changed.

use std::time::Duration;

use loginguard::domain::{AccountKey, OnLimit, Username};
use loginguard::store::redis::KeySpace;
use parking_lot::Mutex;

use crate::delay_proxy::DelayProxy;
use crate::helpers::{base_config, eventually, spawn_app, with_policy};
use crate::redis_server::RedisServer;

/// `--redis-timeout` in these tests, and how late the proxy makes the sign-in
/// script's replies: every try of the sign-in misses its answer.
const TIMEOUT: Duration = Duration::from_millis(300);
const HOLD: Duration = Duration::from_millis(1000);

#[tokio::test]
async fn a_sign_in_answered_too_late_is_503_and_leaves_no_session_behind() {
    let redis = RedisServer::start();
    let proxy = DelayProxy::start(redis.port).await;
    let mut config = with_policy(base_config(), 1, OnLimit::DenyNew);
    config.store.redis = Some(proxy.url().into());
    config.store.redis_timeout = TIMEOUT;
    let app = spawn_app(config).await;
    let user = Username::parse("user1").unwrap();
    let sessions_key = KeySpace::new("lg").account(&AccountKey::of(&user)).sessions;

    proxy.hold_replies("created", HOLD);
    app.login("user1", "password1", "PC1")
        .await
        .error(503, "store_unavailable");
    proxy.release();

    eventually("no session is left that nobody holds", || async {
        redis
            .cli(&["HLEN", &sessions_key])
            .is_some_and(|n| n.trim() == "0")
    })
    .await;
    // Under deny_new such a session would refuse every sign-in (409) until
    // its idle timeout. Replies queued behind the held one may still be late.
    let token = Mutex::new(None);
    eventually("a new sign-in is admitted", || async {
        let reply = app.login("user1", "password1", "PC2").await;
        let admitted = reply.status == 200;
        if admitted {
            *token.lock() = Some(reply.token());
        }
        admitted
    })
    .await;
    let token = token.into_inner().expect("admitted");
    let sessions = app.sessions(&token).await;
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(sessions[0]["device"], "PC2");
}
