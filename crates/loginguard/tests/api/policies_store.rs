//! The policy rules of PROTOCOL.md Part 2 ("Policies", `device_id`) in the
//! store conformance suite: each runs on memory, Redis and a 3-master
//! Cluster through `conformance!`, so `domain::decide` and `sign_in.lua`
//! are held to the same answers.

use loginguard::domain::{ClientDeviceId, Lookup, Millis, OnLimit, Policy, Reason, Token};
use loginguard::events::StoreEvent;
use loginguard::store::{SignInOutcome, SignInRequest};

use crate::store::{new_session, now, policy, Subject};

/// Signs `name` in on `device`, carrying `device_id` when given.
async fn sign_in_with(
    s: &Subject,
    name: &str,
    device: &str,
    device_id: Option<&str>,
    at: Millis,
    p: Policy,
) -> (Token, SignInOutcome) {
    let (mut session, token) = new_session(name, device, at);
    session.device_id = device_id.map(|d| ClientDeviceId::parse(d).unwrap());
    let outcome = s
        .store
        .sign_in(SignInRequest {
            session,
            policy: p,
            now: at,
        })
        .await
        .expect("sign_in");
    (token, outcome)
}

async fn is_live(s: &Subject, t: &Token, at: Millis) -> bool {
    matches!(s.store.validate(t, at).await.unwrap(), Lookup::Live(_))
}

/// The reason a token's session ended; panics when it is live or unknown.
async fn ended_for(s: &Subject, t: &Token, at: Millis) -> Reason {
    match s.store.validate(t, at).await.unwrap() {
        Lookup::Ended(tomb) => tomb.reason,
        other => panic!("ended expected, got {other:?}"),
    }
}

pub async fn same_device_replaces_itself_and_touches_nobody_else(s: Subject) {
    let t = now();
    let full = policy(2, OnLimit::DenyNew);
    let (a, _) = sign_in_with(&s, "user1", "Tab 1", Some("browser-A"), t, full).await;
    let (b, _) = sign_in_with(
        &s,
        "user1",
        "Phone",
        Some("phone-B1"),
        Millis(t.0 + 1),
        full,
    )
    .await;
    // At the limit, under deny_new: the same browser still gets in.
    let (a2, outcome) = sign_in_with(
        &s,
        "user1",
        "Tab 2",
        Some("browser-A"),
        Millis(t.0 + 2),
        full,
    )
    .await;
    let SignInOutcome::Created { revoked, replaced } = outcome else {
        panic!("created expected, got {outcome:?}")
    };
    assert!(revoked.is_empty(), "no other session is touched");
    assert_eq!(replaced.expect("replaced").session_id, *a.session_id());
    let later = Millis(t.0 + 3);
    assert!(is_live(&s, &b, later).await, "the other device stays");
    assert!(is_live(&s, &a2, later).await);
    let Lookup::Ended(tomb) = s.store.validate(&a, later).await.unwrap() else {
        panic!("tombstone expected")
    };
    assert_eq!(tomb.reason, Reason::Replaced);
    assert_eq!(tomb.by.expect("by").device.as_str(), "Tab 2");
    let event = s
        .events
        .wait_for("signed_in with a replaced session", |e| {
            matches!(
                e,
                StoreEvent::SignedIn {
                    replaced: Some(_),
                    ..
                }
            )
        })
        .await;
    let StoreEvent::SignedIn {
        id,
        revoked,
        replaced,
        ..
    } = event
    else {
        unreachable!()
    };
    assert_eq!(&id, a2.session_id());
    assert!(revoked.is_empty());
    assert_eq!(replaced.as_ref(), Some(a.session_id()));
    // A third device is still refused: replacing consumed no place.
    let (_, third) =
        sign_in_with(&s, "user1", "PC", Some("laptop-C1"), Millis(t.0 + 4), full).await;
    assert!(matches!(third, SignInOutcome::Denied { .. }), "{third:?}");
}

pub async fn a_device_id_of_another_account_replaces_nothing(s: Subject) {
    let t = now();
    let p = policy(1, OnLimit::DenyNew);
    let (a, _) = sign_in_with(&s, "user1", "PC", Some("shared-id"), t, p).await;
    let (_, outcome) = sign_in_with(&s, "user2", "PC", Some("shared-id"), Millis(t.0 + 1), p).await;
    assert!(
        matches!(outcome, SignInOutcome::Created { replaced: None, .. }),
        "{outcome:?}"
    );
    assert!(is_live(&s, &a, Millis(t.0 + 2)).await);
}

/// Under `deny_new` at the limit, a browser signing in again races another
/// device's sign-in: whatever the order, the same device replaces itself,
/// the other device is refused, and nothing else changes. Many accounts at
/// once, so the two sign-ins really interleave.
pub async fn same_device_replace_racing_another_devices_sign_in(s: Subject) {
    let t = now();
    let full = policy(2, OnLimit::DenyNew);
    let mut rounds = Vec::new();
    for i in 0..20 {
        let name = format!("race{i}");
        let (a, _) = sign_in_with(&s, &name, "Tab 1", Some("browser-A"), t, full).await;
        let (b, _) =
            sign_in_with(&s, &name, "Phone", Some("phone-B1"), Millis(t.0 + 1), full).await;
        rounds.push((name, a, b));
    }
    let mut tasks = Vec::new();
    for (name, a, b) in rounds {
        let store = s.store.clone();
        let again = {
            let store = store.clone();
            let name = name.clone();
            tokio::spawn(async move {
                let (mut session, token) = new_session(&name, "Tab 2", Millis(t.0 + 2));
                session.device_id = Some(ClientDeviceId::parse("browser-A").unwrap());
                let req = SignInRequest {
                    session,
                    policy: full,
                    now: Millis(t.0 + 2),
                };
                (token, store.sign_in(req).await.unwrap())
            })
        };
        let other = tokio::spawn(async move {
            let (mut session, token) = new_session(&name, "Laptop", Millis(t.0 + 2));
            session.device_id = Some(ClientDeviceId::parse("laptop-C1").unwrap());
            let req = SignInRequest {
                session,
                policy: full,
                now: Millis(t.0 + 2),
            };
            (token, store.sign_in(req).await.unwrap())
        });
        tasks.push((a, b, again, other));
    }
    let later = Millis(t.0 + 3);
    for (a, b, again, other) in tasks {
        let (a2, replaced) = again.await.unwrap();
        let (c, refused) = other.await.unwrap();
        assert!(
            matches!(&replaced, SignInOutcome::Created { revoked, replaced: Some(r) }
                if revoked.is_empty() && r.session_id == *a.session_id()),
            "{replaced:?}"
        );
        assert!(
            matches!(refused, SignInOutcome::Denied { .. }),
            "{refused:?}"
        );
        assert_eq!(ended_for(&s, &a, later).await, Reason::Replaced);
        assert!(is_live(&s, &a2, later).await);
        assert!(is_live(&s, &b, later).await);
        assert!(!is_live(&s, &c, later).await);
    }
}

conformance!(
    same_device_replaces_itself_and_touches_nobody_else,
    a_device_id_of_another_account_replaces_nothing,
    same_device_replace_racing_another_devices_sign_in,
);
