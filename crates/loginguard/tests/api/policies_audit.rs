//! The audit trail of the policy outcomes (PROTOCOL.md Part 2): a same-device
//! replace, an `ask` refusal and the redemption of its ticket each append
//! their entries in the same step, on memory, Redis and a 3-master Cluster
//! through `conformance!`, so `store/memory.rs` and the scripts
//! (`sign_in.lua`, `redeem.lua`) write the same trail.

use loginguard::domain::{
    AuditEntry, AuditKind, EvictionTicket, Millis, OnLimit, Reason, SessionId,
};
use loginguard::store::{RedeemOutcome, SignInOutcome};

use crate::policies_store::{redeem, sign_in_with};
use crate::store::{audit_of, now, policy, Subject, INSTANCE};

/// The trail of `user1`, oldest first; every entry names this suite's
/// instance.
async fn trail(s: &Subject) -> Vec<AuditEntry> {
    let mut entries = audit_of(s, Some("user1"), 1000).await;
    entries.reverse();
    for e in &entries {
        assert_eq!(e.record.instance, INSTANCE);
    }
    entries
}

/// Kind, device and reason of each entry.
fn summary(entries: &[AuditEntry]) -> Vec<(AuditKind, &str, Option<Reason>)> {
    entries
        .iter()
        .map(|e| {
            let r = &e.record;
            (r.kind, r.device.as_ref().unwrap().as_str(), r.reason)
        })
        .collect()
}

/// A same-device sign-in: the old session's entry is `revoked` with reason
/// `replaced` and the new device as `by`, then the new one's `signed_in`;
/// the other device's session gets no entry.
pub async fn a_replace_is_audited_as_revoked_for_replaced(s: Subject) {
    let t = now();
    let full = policy(2, OnLimit::DenyNew);
    let (a, _) = sign_in_with(&s, "user1", "Tab 1", Some("browser-A"), t, &full).await;
    let at_b = Millis(t.0 + 1);
    sign_in_with(&s, "user1", "Phone", Some("phone-B1"), at_b, &full).await;
    let at = Millis(t.0 + 2);
    let (a2, outcome) = sign_in_with(&s, "user1", "Tab 2", Some("browser-A"), at, &full).await;
    assert!(
        matches!(
            outcome,
            SignInOutcome::Created {
                replaced: Some(_),
                ..
            }
        ),
        "{outcome:?}"
    );

    let entries = trail(&s).await;
    use AuditKind::*;
    assert_eq!(
        summary(&entries),
        vec![
            (SignedIn, "Tab 1", None),
            (SignedIn, "Phone", None),
            (Revoked, "Tab 1", Some(Reason::Replaced)),
            (SignedIn, "Tab 2", None),
        ]
    );
    let replaced = &entries[2].record;
    assert_eq!(replaced.session_id.as_ref(), Some(a.session_id()));
    assert_eq!(replaced.at, at);
    let by = replaced.by.as_ref().expect("the new device is `by`");
    assert_eq!((by.device.as_str(), by.at), ("Tab 2", at));
    assert_eq!(entries[3].record.session_id.as_ref(), Some(a2.session_id()));
    assert_eq!(entries[3].record.at, at);
}

/// `ask`: the refusal is `denied` (no session id); the redemption of its
/// ticket appends the chosen session's `revoked` (`duplicate_login`, by the
/// waiting device) and the new session's `signed_in`; a redemption that
/// changes nothing (not offered, a re-run, a used ticket) appends nothing.
pub async fn an_eviction_by_ticket_is_audited(s: Subject) {
    let t = now();
    let ask = policy(2, OnLimit::Ask);
    sign_in_with(&s, "user1", "A", None, t, &ask).await;
    let (b, _) = sign_in_with(&s, "user1", "B", None, Millis(t.0 + 1), &ask).await;
    let refused_at = Millis(t.0 + 2);
    let (refused, outcome) =
        sign_in_with(&s, "user1", "Waiting", Some("waiting-1"), refused_at, &ask).await;
    assert!(
        matches!(outcome, SignInOutcome::Denied { .. }),
        "{outcome:?}"
    );
    let ticket = EvictionTicket::of(refused);
    let at = Millis(t.0 + 3);
    let stranger = SessionId::from_bytes([9; 16]);
    let (not_offered, _) = redeem(&ticket, &stranger, at);
    assert_eq!(
        s.store.redeem_ticket(not_offered).await.unwrap(),
        RedeemOutcome::NotOffered
    );
    let before = trail(&s).await.len();
    assert_eq!(before, 3, "two sign-ins and the refusal");

    let (req, fresh) = redeem(&ticket, b.session_id(), at);
    let outcome = s.store.redeem_ticket(req.clone()).await.unwrap();
    assert!(
        matches!(outcome, RedeemOutcome::Created { .. }),
        "{outcome:?}"
    );
    s.store.redeem_ticket(req).await.unwrap();
    let (used, _) = redeem(&ticket, b.session_id(), Millis(t.0 + 4));
    assert_eq!(
        s.store.redeem_ticket(used).await.unwrap(),
        RedeemOutcome::InvalidTicket
    );

    let entries = trail(&s).await;
    use AuditKind::*;
    assert_eq!(
        summary(&entries),
        vec![
            (SignedIn, "A", None),
            (SignedIn, "B", None),
            (Denied, "Waiting", None),
            (Revoked, "B", Some(Reason::DuplicateLogin)),
            (SignedIn, "Waiting", None),
        ],
        "a re-run and a used ticket add nothing"
    );
    let denied = &entries[2].record;
    assert_eq!(denied.session_id, None, "the refused attempt is no session");
    assert_eq!(denied.at, refused_at);
    let evicted = &entries[3].record;
    assert_eq!(evicted.session_id.as_ref(), Some(b.session_id()));
    assert_eq!(evicted.at, at);
    let by = evicted.by.as_ref().expect("the waiting device is `by`");
    assert_eq!((by.device.as_str(), by.at), ("Waiting", at));
    let created = &entries[4].record;
    assert_eq!(created.session_id.as_ref(), Some(fresh.session_id()));
    assert_eq!(created.at, at);
}

conformance!(
    a_replace_is_audited_as_revoked_for_replaced,
    an_eviction_by_ticket_is_audited,
);
