//! Upgrading a running deployment: session records, tombstones and eviction
//! tickets an earlier version stored as JSON keep working, and every record
//! a script writes from then on is in the compact encoding
//! (`store/redis/record.rs`, docs/redis.md "Records").

use loginguard::domain::{
    AccountKey, Actor, DeviceName, EvictionTicket, Lookup, Millis, OnLimit, PendingSignIn, Reason,
    Tombstone,
};
use loginguard::store::{RedeemOutcome, SessionStore};

use crate::policies_store::redeem;
use crate::redis_reads::store_on;
use crate::redis_server::RedisServer;
use crate::store::{new_session, now, policy, user, LIFE};

async fn raw_conn(redis: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

async fn hget(conn: &mut redis::aio::MultiplexedConnection, key: &str, field: &str) -> Vec<u8> {
    redis::cmd("HGET")
        .arg(key)
        .arg(field)
        .query_async(conn)
        .await
        .unwrap()
}

fn is_json(raw: &[u8]) -> bool {
    raw.first() == Some(&b'{')
}

/// A record as the earlier version stored it: the serde JSON.
fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_records_from_before_still_validate_list_revoke_and_answer_tombstones() {
    let redis = RedisServer::start();
    let store = store_on(&redis);
    let mut raw = raw_conn(&redis).await;
    let account = AccountKey::of(&user("legacy"));
    let keys = store.keys().account(&account);

    let t = now();
    let (kept, kept_token) = new_session("legacy", "PC1", t);
    let (ended, ended_token) = new_session("legacy", "PC2", Millis(t.0 + 1));
    let (revoked, revoked_token) = new_session("legacy", "PC3", Millis(t.0 + 2));
    let tombstone = Tombstone {
        token_hash: ended.token_hash.clone(),
        reason: Reason::DuplicateLogin,
        revoked_at: Millis(t.0 + 3),
        by: Some(Actor {
            device: DeviceName::parse("PC3").unwrap(),
            ip: "198.51.100.1".into(),
            at: Millis(t.0 + 3),
        }),
        until: ended.expires_at,
    };
    redis::cmd("HSET")
        .arg(&keys.sessions)
        .arg(kept.session_id.as_str())
        .arg(json(&kept))
        .arg(revoked.session_id.as_str())
        .arg(json(&revoked))
        .query_async::<()>(&mut raw)
        .await
        .unwrap();
    redis::cmd("HSET")
        .arg(&keys.tombstones)
        .arg(ended.session_id.as_str())
        .arg(json(&tombstone))
        .query_async::<()>(&mut raw)
        .await
        .unwrap();

    let at = Millis(t.0 + 10);
    assert_eq!(
        store.validate(&kept_token, at).await.unwrap(),
        Lookup::Live(kept.clone()),
        "a JSON record validates (the plain read)"
    );
    assert_eq!(
        store.list(&account, at).await.unwrap(),
        vec![kept.clone(), revoked.clone()],
        "and lists"
    );
    assert_eq!(
        store.validate(&ended_token, at).await.unwrap(),
        Lookup::Ended(tombstone),
        "a JSON tombstone still answers why"
    );
    let due = t.plus(LIFE.touch_after);
    let Lookup::Live(touched) = store.validate(&kept_token, due).await.unwrap() else {
        panic!("live")
    };
    assert_eq!(
        touched.last_seen_at, due,
        "the script touched the JSON record"
    );
    let rewritten = hget(&mut raw, &keys.sessions, kept.session_id.as_str()).await;
    assert!(!is_json(&rewritten), "and wrote it back compactly");
    assert!(rewritten.len() * 2 < json(&kept).len());

    let out = store
        .revoke(
            &account,
            &revoked.session_id,
            Reason::RevokedByUser,
            None,
            due,
        )
        .await
        .unwrap();
    assert_eq!(out.map(|s| s.session_id), Some(revoked.session_id.clone()));
    let Lookup::Ended(t2) = store.validate(&revoked_token, due).await.unwrap() else {
        panic!("revoked")
    };
    assert_eq!((t2.reason, t2.by), (Reason::RevokedByUser, None));
    let tomb = hget(&mut raw, &keys.tombstones, revoked.session_id.as_str()).await;
    assert!(!is_json(&tomb), "a new tombstone is compact");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eviction_ticket_stored_as_json_is_still_redeemed() {
    let redis = RedisServer::start();
    let store = store_on(&redis);
    let mut raw = raw_conn(&redis).await;
    let account = AccountKey::of(&user("user1"));
    let t = now();
    let (old, _) = new_session("user1", "Old", t);
    redis::cmd("HSET")
        .arg(store.keys().account(&account).sessions)
        .arg(old.session_id.as_str())
        .arg(json(&old))
        .query_async::<()>(&mut raw)
        .await
        .unwrap();
    let (waiting, waiting_token) = new_session("user1", "Waiting", Millis(t.0 + 1));
    let ticket = EvictionTicket::of(waiting_token);
    let pending = PendingSignIn::new(
        waiting,
        std::slice::from_ref(&old),
        &policy(1, OnLimit::Ask),
        Millis(t.0 + 1),
    );
    redis::cmd("SET")
        .arg(store.keys().ticket(&account, &ticket.hash()))
        .arg(json(&pending))
        .query_async::<()>(&mut raw)
        .await
        .unwrap();

    let (req, fresh_token) = redeem(&ticket, &old.session_id, Millis(t.0 + 2));
    let RedeemOutcome::Created { session, revoked } = store.redeem_ticket(req).await.unwrap()
    else {
        panic!("redeemed")
    };
    assert_eq!(session.device.as_str(), "Waiting");
    assert_eq!(revoked, vec![old]);
    assert_eq!(
        store.validate(&fresh_token, Millis(t.0 + 3)).await.unwrap(),
        Lookup::Live(*session),
        "the new session holds the fresh token's hash"
    );
}
