//! Signing everyone out (PROTOCOL.md Part 2, "Sign everyone out") in the
//! store conformance suite: `SessionStore::revoke_all` on memory, Redis and
//! a 3-master Cluster through `conformance!`. It must end every session
//! created up to its `now` on every account (past one slice of the accounts
//! index too), count them once, reject their tokens, tell every socket
//! through the usual `Revoked` events and audit entries, and leave the
//! sessions created after its `now` alone.

use std::collections::BTreeSet;

use futures_util::{stream, StreamExt};
use loginguard::domain::{AuditKind, Lookup, Millis, OnLimit, Reason, Token};
use loginguard::events::StoreEvent;

use crate::helpers::eventually;
use crate::store::{admit, audit_of, new_session, now, policy, Subject};

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

conformance!(
    revoke_all_ends_every_session_tells_and_audits,
    revoke_all_leaves_sessions_created_after_it,
    revoke_all_reaches_every_account_of_a_large_store,
);
