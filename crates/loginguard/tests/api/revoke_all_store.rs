//! Signing everyone out (PROTOCOL.md Part 2, "Sign everyone out") in the
//! store conformance suite: `SessionStore::revoke_all` on memory, Redis and
//! a 3-master Cluster through `conformance!`. It must end every session
//! created up to its `now` on every account (past one slice of the accounts
//! index too), count them once, reject their tokens, tell every socket
//! through the usual `Revoked` events and audit entries, and leave the
//! sessions created after its `now` alone, also when one script call signs
//! out a batch of accounts (standalone Redis, checked here to be one call
//! per batch) and when the same request runs again.

use std::collections::BTreeSet;

use futures_util::{stream, StreamExt};
use loginguard::domain::{AuditId, AuditKind, Lookup, Millis, OnLimit, Reason, Token};
use loginguard::events::StoreEvent;
use loginguard::store::AuditQuery;

use crate::helpers::eventually;
use crate::redis_server::RedisServer;
use crate::store::{admit, audit_of, new_session, now, policy, redis_on, Subject};

/// Signs `name` in on `device` at `at` under "up to 3, oldest kicked".
async fn signed_in(s: &Subject, name: &str, device: &str, at: Millis) -> Token {
    let (session, token) = new_session(name, device, at);
    admit(s, session, token, &policy(3, OnLimit::KickOldest))
        .await
        .0
}

async fn reason_of(s: &Subject, token: &Token, at: Millis) -> Option<Reason> {
    match s.store.validate(token, at).await.unwrap() {
        Lookup::Ended(tomb) => Some(tomb.reason),
        Lookup::Live(_) => None,
        Lookup::Unknown => panic!("a signed-out session keeps its tombstone"),
    }
}

/// Waits until `Revoked { revoked_by_admin }` events have named every
/// session of `tokens`.
async fn wait_for_revoked_events(s: &Subject, tokens: &[Token]) {
    let wanted: BTreeSet<String> = tokens.iter().map(|t| t.session_id().to_string()).collect();
    eventually("a revoked_by_admin event for every session", || {
        let mut seen = BTreeSet::new();
        for event in s.events.events() {
            if let StoreEvent::Revoked {
                ids,
                reason: Reason::RevokedByAdmin,
                ..
            } = event
            {
                seen.extend(ids.iter().map(|id| id.to_string()));
            }
        }
        let done = wanted.is_subset(&seen);
        async move { done }
    })
    .await;
}

pub async fn revoke_all_ends_every_session_tells_and_audits(s: Subject) {
    let t = now();
    // 8 accounts, 1 to 3 sessions each: 15 sessions, 30 audit entries in all
    // (under the suite's cap of 50).
    let mut tokens = Vec::new();
    for account in 0..8u64 {
        for device in 0..=account % 3 {
            let at = Millis(t.0 + account * 3 + device);
            tokens.push(signed_in(&s, &format!("all{account}"), &format!("D{device}"), at).await);
        }
    }
    assert_eq!(tokens.len(), 15);
    let at = Millis(t.0 + 100);
    assert_eq!(
        s.store
            .revoke_all(Reason::RevokedByAdmin, at)
            .await
            .unwrap(),
        15
    );
    for token in &tokens {
        assert_eq!(
            reason_of(&s, token, Millis(at.0 + 1)).await,
            Some(Reason::RevokedByAdmin)
        );
    }
    wait_for_revoked_events(&s, &tokens).await;
    let revoked = audit_of(&s, None, 50)
        .await
        .into_iter()
        .filter(|e| e.record.kind == AuditKind::Revoked)
        .filter(|e| e.record.reason == Some(Reason::RevokedByAdmin))
        .count();
    assert_eq!(revoked, 15, "one audit entry per ended session");
    assert_eq!(
        s.store
            .revoke_all(Reason::RevokedByAdmin, Millis(at.0 + 1))
            .await
            .unwrap(),
        0,
        "nothing left to end"
    );
}

pub async fn revoke_all_leaves_sessions_created_after_it(s: Subject) {
    let t = now();
    let at = Millis(t.0 + 10);
    let before = signed_in(&s, "early", "PC1", t).await;
    let boundary = signed_in(&s, "edge", "PC1", at).await;
    // Created after the call's `now`: on an account already holding a
    // session that ends, and on one of its own.
    let later_same = signed_in(&s, "early", "PC2", Millis(at.0 + 1)).await;
    let later_own = signed_in(&s, "late", "PC1", Millis(at.0 + 2)).await;
    let first = s
        .store
        .revoke_all(Reason::RevokedByAdmin, at)
        .await
        .unwrap();
    assert_eq!(first, 2, "created at or before `now`: ended");
    let check = Millis(at.0 + 3);
    assert_eq!(
        reason_of(&s, &before, check).await,
        Some(Reason::RevokedByAdmin)
    );
    assert_eq!(
        reason_of(&s, &boundary, check).await,
        Some(Reason::RevokedByAdmin)
    );
    assert_eq!(reason_of(&s, &later_same, check).await, None);
    assert_eq!(reason_of(&s, &later_own, check).await, None);
    assert_eq!(
        s.store
            .revoke_all(Reason::RevokedByAdmin, at)
            .await
            .unwrap(),
        first,
        "a re-run of the same request answers as its first run"
    );
    assert_eq!(reason_of(&s, &later_own, check).await, None);
    assert_eq!(
        s.store
            .revoke_all(Reason::RevokedByAdmin, check)
            .await
            .unwrap(),
        2,
        "a later call ends them"
    );
}

/// More accounts than one slice of the Redis accounts index
/// (`upkeep::ACCOUNTS_PER_CALL`, 500) holds.
pub async fn revoke_all_reaches_every_account_of_a_large_store(s: Subject) {
    const ACCOUNTS: u64 = 1200;
    let t = now();
    let tokens: Vec<Token> = stream::iter(0..ACCOUNTS)
        .map(|i| {
            let s = &s;
            async move { signed_in(s, &format!("many{i}"), "PC", t).await }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let at = Millis(t.0 + 1);
    assert_eq!(
        s.store
            .revoke_all(Reason::RevokedByAdmin, at)
            .await
            .unwrap(),
        ACCOUNTS as usize
    );
    let live: Vec<Lookup> = stream::iter(&tokens)
        .map(|tok| {
            let s = &s;
            async move { s.store.validate(tok, Millis(at.0 + 1)).await.unwrap() }
        })
        .buffer_unordered(32)
        .filter(|l| std::future::ready(!matches!(l, Lookup::Ended(_))))
        .collect()
        .await;
    assert!(live.is_empty(), "{} sessions not ended", live.len());
    assert!(s.store.list_all(Millis(at.0 + 1)).await.unwrap().is_empty());
    wait_for_revoked_events(&s, &tokens).await;
}

/// More accounts than one `revoke_all.lua` call takes outside Cluster (16),
/// and not a multiple of it: each batch leaves the sessions created after
/// `now` alone, and a re-run of the same request answers the same count and
/// changes nothing (no tombstone, audit entry or event more).
pub async fn revoke_all_in_batches_spares_later_sessions_and_reruns_alike(s: Subject) {
    const ACCOUNTS: u64 = 75;
    let t = now();
    let at = Millis(t.0 + 10);
    let later = Millis(at.0 + 1);
    let mut early = Vec::new();
    let mut kept = Vec::new();
    for i in 0..ACCOUNTS {
        early.push(signed_in(&s, &format!("batch{i}"), "PC", t).await);
        if i % 10 == 3 {
            kept.push(signed_in(&s, &format!("batch{i}"), "Phone", later).await);
        }
    }
    kept.push(signed_in(&s, "batchlate", "PC", later).await);
    let revoke = || s.store.revoke_all(Reason::RevokedByAdmin, at);
    assert_eq!(revoke().await.unwrap(), ACCOUNTS as usize);
    let check = Millis(later.0 + 1);
    for token in &early {
        assert_eq!(
            reason_of(&s, token, check).await,
            Some(Reason::RevokedByAdmin)
        );
    }
    for token in &kept {
        assert_eq!(
            reason_of(&s, token, check).await,
            None,
            "created after `now`"
        );
    }
    wait_for_revoked_events(&s, &early).await;
    let revoked_events = || {
        s.events
            .events()
            .into_iter()
            .filter(|e| matches!(e, StoreEvent::Revoked { .. }))
            .count()
    };
    let (events_before, newest_before) = (revoked_events(), newest_audit_entry(&s).await);

    assert_eq!(
        revoke().await.unwrap(),
        ACCOUNTS as usize,
        "a re-run of the same request answers as its first run"
    );
    for token in &kept {
        assert_eq!(reason_of(&s, token, check).await, None, "still live");
    }
    assert_eq!(
        newest_audit_entry(&s).await,
        newest_before,
        "no audit entry more"
    );
    // Events of one store arrive in order: once this sign-in's is heard, a
    // revocation by the re-run would have been too.
    signed_in(&s, "batchbarrier", "PC", check).await;
    s.events
        .wait_for("the barrier's signed_in", |e| {
            matches!(e, StoreEvent::SignedIn { username, .. } if username.as_str() == "batchbarrier")
        })
        .await;
    assert_eq!(revoked_events(), events_before, "no event more");
}

/// The id of the audit trail's newest entry.
async fn newest_audit_entry(s: &Subject) -> Option<AuditId> {
    let page = s
        .store
        .audit(&AuditQuery {
            before: None,
            limit: 1,
            username: None,
        })
        .await
        .unwrap();
    page.entries.first().map(|e| e.id)
}

/// Outside Cluster one `revoke_all.lua` call signs out a batch of accounts,
/// not one account each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_standalone_redis_one_call_signs_out_many_accounts() {
    let server = RedisServer::start();
    let mut info = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let s = redis_on(server).await;
    let t = now();
    for i in 0..64 {
        signed_in(&s, &format!("one{i}"), "PC", t).await;
    }
    let before = script_calls(&mut info).await;
    let ended = s
        .store
        .revoke_all(Reason::RevokedByAdmin, Millis(t.0 + 1))
        .await
        .unwrap();
    assert_eq!(ended, 64);
    let calls = script_calls(&mut info).await - before;
    // Four batches of 16; those sent before the script was loaded are sent
    // again after Redis answers NOSCRIPT (at most one per call in flight).
    assert!(
        (4..=8).contains(&calls),
        "{calls} script calls for 64 accounts"
    );
}

/// How many `EVALSHA` calls Redis has run.
async fn script_calls(conn: &mut redis::aio::MultiplexedConnection) -> u64 {
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await
        .unwrap();
    stats
        .lines()
        .find_map(|l| l.strip_prefix("cmdstat_evalsha:calls="))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |n| n.parse().unwrap())
}

conformance!(
    revoke_all_ends_every_session_tells_and_audits,
    revoke_all_leaves_sessions_created_after_it,
    revoke_all_reaches_every_account_of_a_large_store,
    revoke_all_in_batches_spares_later_sessions_and_reruns_alike,
);
