//! Runtime policy overrides (PROTOCOL.md Part 2, "Runtime overrides") in the
//! store conformance suite, on memory, Redis and a 3-master Cluster: the
//! stored override beats the policy the sign-in brings (users file > flags),
//! in the sign-in's own step and in a ticket's redemption, and its removal
//! falls back at once.

use loginguard::domain::{
    AccountKey, ClassLimits, EvictionTicket, Millis, OnLimit, Policy, PolicyOverride,
};
use loginguard::store::{RedeemOutcome, SignInOutcome};

use crate::policies_store::{redeem, sign_in_with};
use crate::store::{now, policy, user, Subject};

fn over(max: Option<u32>, on_limit: Option<OnLimit>, classes: Option<&str>) -> PolicyOverride {
    PolicyOverride {
        max_sessions: max,
        on_limit,
        class_limits: classes.map(|c| ClassLimits::parse(c).unwrap()),
    }
    .checked()
    .unwrap()
}

fn user1() -> AccountKey {
    AccountKey::of(&user("user1"))
}

pub async fn an_override_beats_the_configured_policy_until_removed(s: Subject) {
    let t = now();
    let configured = policy(1, OnLimit::KickOldest);
    let stored = over(Some(2), Some(OnLimit::DenyNew), None);
    assert_eq!(s.store.policy_override(&user1()).await.unwrap(), None);
    assert!(!s
        .store
        .set_policy_override(&user1(), Some(&stored))
        .await
        .unwrap());
    assert_eq!(
        s.store.policy_override(&user1()).await.unwrap(),
        Some(stored.clone())
    );
    let sign_in = |device: &'static str, at: u64, p: Policy| {
        let s = &s;
        async move { sign_in_with(s, "user1", device, None, Millis(t.0 + at), &p).await }
    };
    let (a, first) = sign_in("A", 0, configured.clone()).await;
    let (b, second) = sign_in("B", 1, configured.clone()).await;
    for outcome in [&first, &second] {
        assert!(
            matches!(outcome, SignInOutcome::Created { revoked, on_limit: OnLimit::DenyNew, .. } if revoked.is_empty()),
            "max_sessions 2 from the override: {outcome:?}"
        );
    }
    let (_, third) = sign_in("C", 2, configured.clone()).await;
    assert!(
        matches!(&third, SignInOutcome::Denied { active, on_limit: OnLimit::DenyNew } if active.len() == 2),
        "deny_new from the override: {third:?}"
    );
    // Another account keeps the configured policy.
    let (_, other) = sign_in_with(&s, "user2", "X", None, t, &configured).await;
    let (_, other) = match other {
        SignInOutcome::Created { .. } => {
            sign_in_with(&s, "user2", "Y", None, Millis(t.0 + 1), &configured).await
        }
        _ => panic!("created expected, got {other:?}"),
    };
    assert!(
        matches!(&other, SignInOutcome::Created { revoked, on_limit: OnLimit::KickOldest, .. } if revoked.len() == 1),
        "{other:?}"
    );

    assert!(s.store.set_policy_override(&user1(), None).await.unwrap());
    assert!(
        !s.store.set_policy_override(&user1(), None).await.unwrap(),
        "removing twice is no error"
    );
    assert_eq!(s.store.policy_override(&user1()).await.unwrap(), None);
    let (_, back) = sign_in("D", 3, configured).await;
    let SignInOutcome::Created {
        revoked, on_limit, ..
    } = back
    else {
        panic!("created expected, got {back:?}")
    };
    assert_eq!(on_limit, OnLimit::KickOldest, "back to the configured one");
    let mut gone: Vec<_> = revoked.iter().map(|s| s.session_id.clone()).collect();
    gone.sort();
    let mut both = vec![a.session_id().clone(), b.session_id().clone()];
    both.sort();
    assert_eq!(gone, both, "max_sessions 1 again: both older ones go");
}

/// Only the fields set are replaced; `class_limits: {}` lifts the
/// configured class limits.
pub async fn an_override_replaces_only_its_fields(s: Subject) {
    let t = now();
    let configured = Policy {
        class_limits: ClassLimits::parse("web=1").unwrap(),
        ..policy(3, OnLimit::DenyNew)
    };
    let lifted = over(None, None, Some(""));
    s.store
        .set_policy_override(&user1(), Some(&lifted))
        .await
        .unwrap();
    for (i, device) in ["A", "B", "C"].into_iter().enumerate() {
        let at = Millis(t.0 + i as u64);
        let (_, outcome) = sign_in_with(&s, "user1", device, None, at, &configured).await;
        assert!(
            matches!(outcome, SignInOutcome::Created { .. }),
            "three web sessions: {outcome:?}"
        );
    }
    let (_, fourth) = sign_in_with(&s, "user1", "D", None, Millis(t.0 + 3), &configured).await;
    assert!(
        matches!(&fourth, SignInOutcome::Denied { on_limit: OnLimit::DenyNew, active } if active.len() == 3),
        "max_sessions and on_limit stay configured: {fourth:?}"
    );
}

/// An override to `ask` makes the refusal keep a ticket (the configured
/// policy says `deny_new`), and a redemption is held to the override's
/// limits as they are when it runs.
pub async fn tickets_follow_the_override(s: Subject) {
    let t = now();
    let configured = policy(1, OnLimit::DenyNew);
    s.store
        .set_policy_override(&user1(), Some(&over(None, Some(OnLimit::Ask), None)))
        .await
        .unwrap();
    let (a, _) = sign_in_with(&s, "user1", "A", None, t, &configured).await;
    let (refused, outcome) =
        sign_in_with(&s, "user1", "B", None, Millis(t.0 + 1), &configured).await;
    assert!(
        matches!(
            outcome,
            SignInOutcome::Denied {
                on_limit: OnLimit::Ask,
                ..
            }
        ),
        "{outcome:?}"
    );
    let ticket = EvictionTicket::of(refused);
    // The admin raises the limit before the user chooses: room, no eviction.
    s.store
        .set_policy_override(&user1(), Some(&over(Some(2), Some(OnLimit::Ask), None)))
        .await
        .unwrap();
    let (req, _) = redeem(&ticket, a.session_id(), Millis(t.0 + 2));
    let outcome = s.store.redeem_ticket(req).await.unwrap();
    assert!(
        matches!(&outcome, RedeemOutcome::Created { revoked, .. } if revoked.is_empty()),
        "the raised limit made room: {outcome:?}"
    );
    let live = s.store.list(&user1(), Millis(t.0 + 3)).await.unwrap();
    assert_eq!(live.len(), 2, "{live:?}");
}

conformance!(
    an_override_beats_the_configured_policy_until_removed,
    an_override_replaces_only_its_fields,
    tickets_follow_the_override,
);
