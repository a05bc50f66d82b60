//! What a token check costs Redis, and what it must never trade for it: a
//! check that changes nothing is one plain read (no script runs), a due
//! touch still runs the script, and a session revoked through one store is
//! refused by the very next check through another (nothing is kept aside).

use std::time::Duration;

use loginguard::domain::{AccountKey, Lookup, Millis, OnLimit, Reason};
use loginguard::store::redis::{RedisConn, RedisTls};
use loginguard::store::{RedisStore, SessionStore, SignInRequest};

use crate::redis_server::RedisServer;
use crate::store::{new_session, now, policy, user, LIFE};

/// How many scripts the server has run (`INFO commandstats`), not counting
/// the `NOSCRIPT` refusals before a script's first load.
fn scripts_run(redis: &RedisServer) -> u64 {
    let stats = redis.cli(&["INFO", "commandstats"]).expect("INFO");
    let Some(line) = stats
        .lines()
        .find_map(|l| l.strip_prefix("cmdstat_evalsha:"))
    else {
        return 0;
    };
    let field = |name: &str| -> u64 {
        line.split(',')
            .find_map(|f| f.trim().strip_prefix(name)?.strip_prefix('='))
            .expect("a field of commandstats")
            .parse()
            .expect("a count")
    };
    field("calls") - field("failed_calls")
}

/// A store on `redis` with the suite's lifetimes, reached directly (no proxy).
pub(crate) fn store_on(redis: &RedisServer) -> RedisStore {
    let conn = RedisConn::single(
        &redis.url(),
        &RedisTls::system_roots(),
        Duration::from_secs(2),
    )
    .expect("redis conn");
    RedisStore::new(conn, "lg", LIFE)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_that_changes_nothing_runs_no_script_and_sees_a_revocation_at_once() {
    let redis = RedisServer::start();
    let (a, b) = (store_on(&redis), store_on(&redis));
    let t = now();
    let (session, token) = new_session("user1", "PC1", t);
    a.sign_in(SignInRequest {
        session,
        policy: policy(1, OnLimit::KickOldest),
        now: t,
    })
    .await
    .expect("sign_in");

    let before = scripts_run(&redis);
    for i in 0..20 {
        let at = Millis(t.0 + i * 1_000);
        assert!(matches!(
            b.validate(&token, at).await.unwrap(),
            Lookup::Live(_)
        ));
    }
    assert_eq!(
        scripts_run(&redis),
        before,
        "checks within the touch interval run no script"
    );

    let due = t.plus(LIFE.touch_after);
    let Lookup::Live(touched) = b.validate(&token, due).await.unwrap() else {
        panic!("live")
    };
    assert_eq!(touched.last_seen_at, due, "a due touch is written");
    assert_eq!(scripts_run(&redis), before + 1, "by the script");

    let key = AccountKey::of(&user("user1"));
    let revoked_at = Millis(due.0 + 1);
    a.revoke(
        &key,
        token.session_id(),
        Reason::RevokedByAdmin,
        None,
        revoked_at,
    )
    .await
    .unwrap()
    .expect("was live");
    let Lookup::Ended(tomb) = b.validate(&token, Millis(revoked_at.0 + 1)).await.unwrap() else {
        panic!("the very next check refuses the revoked token")
    };
    assert_eq!(tomb.reason, Reason::RevokedByAdmin);
}
