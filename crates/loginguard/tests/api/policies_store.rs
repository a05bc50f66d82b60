//! The policy rules of PROTOCOL.md Part 2 ("Policies", `device_id`) in the
//! store conformance suite: each runs on memory, Redis and a 3-master
//! Cluster through `conformance!`, so `domain::decide` and `sign_in.lua`
//! are held to the same answers.

use std::time::Duration;

use loginguard::domain::{
    AccountKey, ClassLimits, ClientDeviceId, Clock, DeviceClass, EvictionTicket, FreshSession,
    Lookup, ManualClock, Millis, OnLimit, Policy, Reason, SessionId, Token, TICKET_LIFETIME,
};
use loginguard::events::StoreEvent;
use loginguard::store::{RedeemOutcome, RedeemRequest, SignInOutcome, SignInRequest};

use crate::store::{admit, new_session, now, policy, user, Subject};

/// `policy(max, on_limit)` with class limits (`web=1,mobile=2`).
fn with_classes(max: u32, on_limit: OnLimit, limits: &str) -> Policy {
    Policy {
        class_limits: ClassLimits::parse(limits).unwrap(),
        ..policy(max, on_limit)
    }
}

/// Signs `name` in on `device` of `class`.
async fn sign_in_class(
    s: &Subject,
    name: &str,
    device: &str,
    class: &str,
    at: Millis,
    p: &Policy,
) -> (Token, SignInOutcome) {
    let (mut session, token) = new_session(name, device, at);
    session.device_class = Some(DeviceClass::parse(class).unwrap());
    admit(s, session, token, p).await
}

/// Signs `name` in on `device`, carrying `device_id` when given.
pub async fn sign_in_with(
    s: &Subject,
    name: &str,
    device: &str,
    device_id: Option<&str>,
    at: Millis,
    p: &Policy,
) -> (Token, SignInOutcome) {
    let (mut session, token) = new_session(name, device, at);
    session.device_id = device_id.map(|d| ClientDeviceId::parse(d).unwrap());
    admit(s, session, token, p).await
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
    let (a, _) = sign_in_with(&s, "user1", "Tab 1", Some("browser-A"), t, &full).await;
    let (b, _) = sign_in_with(
        &s,
        "user1",
        "Phone",
        Some("phone-B1"),
        Millis(t.0 + 1),
        &full,
    )
    .await;
    // At the limit, under deny_new: the same browser still gets in.
    let (a2, outcome) = sign_in_with(
        &s,
        "user1",
        "Tab 2",
        Some("browser-A"),
        Millis(t.0 + 2),
        &full,
    )
    .await;
    let SignInOutcome::Created {
        revoked, replaced, ..
    } = outcome
    else {
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
        sign_in_with(&s, "user1", "PC", Some("laptop-C1"), Millis(t.0 + 4), &full).await;
    assert!(matches!(third, SignInOutcome::Denied { .. }), "{third:?}");
}

pub async fn a_device_id_of_another_account_replaces_nothing(s: Subject) {
    let t = now();
    let p = policy(1, OnLimit::DenyNew);
    let (a, _) = sign_in_with(&s, "user1", "PC", Some("shared-id"), t, &p).await;
    let (_, outcome) =
        sign_in_with(&s, "user2", "PC", Some("shared-id"), Millis(t.0 + 1), &p).await;
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
        let (a, _) = sign_in_with(&s, &name, "Tab 1", Some("browser-A"), t, &full).await;
        let (b, _) =
            sign_in_with(&s, &name, "Phone", Some("phone-B1"), Millis(t.0 + 1), &full).await;
        rounds.push((name, a, b));
    }
    let mut tasks = Vec::new();
    for (name, a, b) in rounds {
        let store = s.store.clone();
        let again = {
            let store = store.clone();
            let name = name.clone();
            let full = full.clone();
            tokio::spawn(async move {
                let (mut session, token) = new_session(&name, "Tab 2", Millis(t.0 + 2));
                session.device_id = Some(ClientDeviceId::parse("browser-A").unwrap());
                let req = SignInRequest {
                    session,
                    policy: full.clone(),
                    now: Millis(t.0 + 2),
                };
                (token, store.sign_in(req).await.unwrap())
            })
        };
        let full = full.clone();
        let other = tokio::spawn(async move {
            let (mut session, token) = new_session(&name, "Laptop", Millis(t.0 + 2));
            session.device_id = Some(ClientDeviceId::parse("laptop-C1").unwrap());
            let req = SignInRequest {
                session,
                policy: full.clone(),
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
            matches!(&replaced, SignInOutcome::Created { revoked, replaced: Some(r), .. }
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

/// 100 parallel sign-ins, half `web` and half `mobile`, under
/// `web=1,mobile=2` within a total of 5: exactly one web and two mobile
/// sessions survive, every other token is rejected with `duplicate_login`.
pub async fn class_limits_hold_under_a_storm_of_two_classes(s: Subject) {
    let t0 = now();
    let p = with_classes(5, OnLimit::KickOldest, "web=1,mobile=2");
    let mut tasks = Vec::new();
    for i in 0..100u64 {
        let store = s.store.clone();
        let p = p.clone();
        tasks.push(tokio::spawn(async move {
            let class = if i % 2 == 0 { "web" } else { "mobile" };
            let at = Millis(t0.0 + i % 7);
            let (mut session, token) = new_session("storm", &format!("dev{i}"), at);
            session.device_class = Some(DeviceClass::parse(class).unwrap());
            let req = SignInRequest {
                session,
                policy: p,
                now: at,
            };
            store.sign_in(req).await.expect("sign_in");
            (class, token)
        }));
    }
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(t.await.unwrap());
    }
    let later = Millis(t0.0 + 10);
    let live = s
        .store
        .list(&AccountKey::of(&user("storm")), later)
        .await
        .unwrap();
    let count = |c: &str| live.iter().filter(|s| s.class().as_str() == c).count();
    assert_eq!((count("web"), count("mobile")), (1, 2), "{live:?}");
    let mut alive = Vec::new();
    for (class, t) in &tokens {
        match s.store.validate(t, later).await.unwrap() {
            Lookup::Live(_) => alive.push(*class),
            Lookup::Ended(tomb) => assert_eq!(tomb.reason, Reason::DuplicateLogin),
            Lookup::Unknown => panic!("every loser keeps a tombstone"),
        }
    }
    alive.sort();
    assert_eq!(alive, ["mobile", "mobile", "web"]);
}

/// The admission rule, one case at a time: a full class loses its own
/// oldest under `kick_oldest`, refuses under `deny_new` naming only that
/// class's sessions, and a class without a limit shares the total.
pub async fn class_limits_admit_kick_and_deny_by_class(s: Subject) {
    let t = now();
    let kick = with_classes(3, OnLimit::KickOldest, "web=1");
    let (w1, _) = sign_in_class(&s, "user1", "W1", "web", t, &kick).await;
    let (m1, _) = sign_in_class(&s, "user1", "M1", "mobile", Millis(t.0 + 1), &kick).await;
    let (w2, outcome) = sign_in_class(&s, "user1", "W2", "web", Millis(t.0 + 2), &kick).await;
    let SignInOutcome::Created { revoked, .. } = outcome else {
        panic!("created expected, got {outcome:?}")
    };
    let gone: Vec<_> = revoked.iter().map(|s| s.session_id.clone()).collect();
    assert_eq!(
        gone,
        [w1.session_id().clone()],
        "the web one, not the older of all"
    );
    let (tv, outcome) = sign_in_class(&s, "user1", "TV", "tv", Millis(t.0 + 3), &kick).await;
    assert!(matches!(&outcome, SignInOutcome::Created { revoked, .. } if revoked.is_empty()));
    // The total (3) is full now: a mobile sign-in (no class limit) evicts the oldest of all.
    let (_, outcome) = sign_in_class(&s, "user1", "M2", "mobile", Millis(t.0 + 4), &kick).await;
    let SignInOutcome::Created { revoked, .. } = outcome else {
        panic!("created expected, got {outcome:?}")
    };
    assert_eq!(revoked[0].session_id, *m1.session_id());
    let later = Millis(t.0 + 5);
    assert_eq!(ended_for(&s, &w1, later).await, Reason::DuplicateLogin);
    assert!(is_live(&s, &w2, later).await && is_live(&s, &tv, later).await);

    let deny = with_classes(5, OnLimit::DenyNew, "web=1,mobile=1");
    let (bw, _) = sign_in_class(&s, "user2", "W", "web", t, &deny).await;
    let (_, _) = sign_in_class(&s, "user2", "M", "mobile", Millis(t.0 + 1), &deny).await;
    let (_, outcome) = sign_in_class(&s, "user2", "W2", "web", Millis(t.0 + 2), &deny).await;
    let SignInOutcome::Denied { active, .. } = outcome else {
        panic!("denied expected, got {outcome:?}")
    };
    let holding: Vec<_> = active.iter().map(|s| s.session_id.clone()).collect();
    assert_eq!(
        holding,
        [bw.session_id().clone()],
        "only the web session holds the place"
    );
    let (_, outcome) = sign_in_class(&s, "user2", "TV", "tv", Millis(t.0 + 3), &deny).await;
    assert!(
        matches!(outcome, SignInOutcome::Created { .. }),
        "{outcome:?}"
    );
}

/// `deny_new` with `stale_after` 10 min: a session whose last use is one
/// millisecond short of 10 min old still blocks; at exactly 10 min it is
/// signed out (`duplicate_login`, by the new device) to make room. A use
/// (touch) restarts its count. Times from the manual clock.
pub async fn a_stale_session_gives_way_at_the_boundary(s: Subject) {
    let clock = ManualClock::new();
    let stale = Policy {
        stale_after: Some(Duration::from_secs(600)),
        ..policy(1, OnLimit::DenyNew)
    };
    let account = AccountKey::of(&user("user1"));
    let (old, _) = sign_in_with(&s, "user1", "Old PC", None, clock.now(), &stale).await;
    clock.advance(Duration::from_secs(120));
    s.store
        .touch(&account, old.session_id(), clock.now())
        .await
        .unwrap();
    let used = clock.now();
    clock.advance(Duration::from_millis(600_000 - 1));
    let (early, outcome) = sign_in_with(&s, "user1", "New PC", None, clock.now(), &stale).await;
    let SignInOutcome::Denied { active, .. } = outcome else {
        panic!("denied expected, got {outcome:?}")
    };
    assert_eq!(active[0].last_seen_at, used, "the touch moved last_seen_at");
    assert!(!is_live(&s, &early, clock.now()).await);
    clock.advance(Duration::from_millis(1));
    let (new, outcome) = sign_in_with(&s, "user1", "New PC", None, clock.now(), &stale).await;
    let SignInOutcome::Created { revoked, .. } = outcome else {
        panic!("created expected, got {outcome:?}")
    };
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].session_id, *old.session_id());
    let Lookup::Ended(tomb) = s.store.validate(&old, clock.now()).await.unwrap() else {
        panic!("tombstone expected")
    };
    assert_eq!(tomb.reason, Reason::DuplicateLogin);
    assert_eq!(tomb.by.expect("by").device.as_str(), "New PC");
    assert!(is_live(&s, &new, clock.now()).await);
    // Off, a stale session (unused 11 min, not yet expired) still blocks.
    let off = policy(1, OnLimit::DenyNew);
    clock.advance(Duration::from_secs(660));
    let (_, outcome) = sign_in_with(&s, "user1", "Third", None, clock.now(), &off).await;
    assert!(
        matches!(outcome, SignInOutcome::Denied { .. }),
        "{outcome:?}"
    );
}

/// A redemption of `ticket` choosing `chosen` at `at`, under a fresh
/// identity; also returns the fresh token.
pub fn redeem(ticket: &EvictionTicket, chosen: &SessionId, at: Millis) -> (RedeemRequest, Token) {
    let (fresh, token) = new_session("user1", "unused", at);
    let req = RedeemRequest {
        account: ticket.account().clone(),
        ticket: ticket.hash(),
        chosen: chosen.clone(),
        fresh: FreshSession {
            session_id: fresh.session_id,
            token_hash: fresh.token_hash,
            expires_at: fresh.expires_at,
        },
        now: at,
    };
    (req, token)
}

/// `ask` at the limit: the refusal keeps a ticket offering the sessions in
/// the way; redeeming it signs the chosen one out (`duplicate_login`, by the
/// waiting device) and makes the waiting device's session, once.
pub async fn an_ask_ticket_signs_the_chosen_session_out_once(s: Subject) {
    let t = now();
    let ask = policy(2, OnLimit::Ask);
    let (a, _) = sign_in_with(&s, "user1", "A", None, t, &ask).await;
    let (b, _) = sign_in_with(&s, "user1", "B", None, Millis(t.0 + 1), &ask).await;
    let (refused, outcome) = sign_in_with(
        &s,
        "user1",
        "Waiting",
        Some("waiting-1"),
        Millis(t.0 + 2),
        &ask,
    )
    .await;
    let SignInOutcome::Denied { active, .. } = outcome else {
        panic!("denied expected, got {outcome:?}")
    };
    assert_eq!(active.len(), 2);
    let ticket = EvictionTicket::of(refused);
    let at = Millis(t.0 + 3);

    let stranger = SessionId::from_bytes([9; 16]);
    let (req, _) = redeem(&ticket, &stranger, at);
    assert_eq!(
        s.store.redeem_ticket(req).await.unwrap(),
        RedeemOutcome::NotOffered
    );

    let (req, fresh) = redeem(&ticket, b.session_id(), at);
    let outcome = s.store.redeem_ticket(req.clone()).await.unwrap();
    let RedeemOutcome::Created { session, revoked } = &outcome else {
        panic!("created expected, got {outcome:?}")
    };
    assert_eq!(
        session.device.as_str(),
        "Waiting",
        "the waiting device's session"
    );
    assert_eq!(session.session_id, *fresh.session_id());
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].session_id, *b.session_id());
    assert_eq!(
        s.store.redeem_ticket(req).await.unwrap(),
        outcome,
        "a re-run answers as the first run"
    );
    let later = Millis(t.0 + 4);
    assert!(is_live(&s, &fresh, later).await && is_live(&s, &a, later).await);
    let Lookup::Ended(tomb) = s.store.validate(&b, later).await.unwrap() else {
        panic!("tombstone expected")
    };
    assert_eq!(tomb.reason, Reason::DuplicateLogin);
    assert_eq!(tomb.by.expect("by").device.as_str(), "Waiting");
    let (again, _) = redeem(&ticket, a.session_id(), later);
    assert_eq!(
        s.store.redeem_ticket(again).await.unwrap(),
        RedeemOutcome::InvalidTicket
    );
    // The refused token opens nothing.
    let opened = s.store.validate(ticket.token(), later).await.unwrap();
    assert_eq!(opened, Lookup::Unknown);
}

/// Twenty parallel redemptions of one ticket: exactly one wins.
pub async fn a_ticket_redeemed_in_parallel_wins_once(s: Subject) {
    let t = now();
    let ask = policy(1, OnLimit::Ask);
    let (a, _) = sign_in_with(&s, "user1", "A", None, t, &ask).await;
    let (refused, _) = sign_in_with(&s, "user1", "B", None, Millis(t.0 + 1), &ask).await;
    let ticket = EvictionTicket::of(refused);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (req, _) = redeem(&ticket, a.session_id(), Millis(t.0 + 2));
        let store = s.store.clone();
        tasks.push(tokio::spawn(async move {
            store.redeem_ticket(req).await.unwrap()
        }));
    }
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            RedeemOutcome::Created { .. } => won += 1,
            other => assert_eq!(other, RedeemOutcome::InvalidTicket),
        }
    }
    assert_eq!(won, 1);
    let live = s
        .store
        .list(&AccountKey::of(&user("user1")), Millis(t.0 + 3))
        .await
        .unwrap();
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(live[0].device.as_str(), "B");
}

/// Room that appeared meanwhile admits without evicting; a ticket past its
/// 120 s is expired.
pub async fn a_ticket_evicts_only_when_needed_and_expires(s: Subject) {
    let t = now();
    let ask = policy(1, OnLimit::Ask);
    let account = AccountKey::of(&user("user1"));
    let (a, _) = sign_in_with(&s, "user1", "A", None, t, &ask).await;
    let (refused, _) = sign_in_with(&s, "user1", "B", None, Millis(t.0 + 1), &ask).await;
    let ticket = EvictionTicket::of(refused);
    s.store
        .revoke(
            &account,
            a.session_id(),
            Reason::Logout,
            None,
            Millis(t.0 + 2),
        )
        .await
        .unwrap();
    let (req, fresh) = redeem(&ticket, a.session_id(), Millis(t.0 + 3));
    let outcome = s.store.redeem_ticket(req).await.unwrap();
    assert!(
        matches!(&outcome, RedeemOutcome::Created { revoked, .. } if revoked.is_empty()),
        "{outcome:?}"
    );
    assert!(is_live(&s, &fresh, Millis(t.0 + 4)).await);

    let (refused, _) = sign_in_with(&s, "user1", "C", None, Millis(t.0 + 5), &ask).await;
    let ticket = EvictionTicket::of(refused);
    let end = Millis(t.0 + 5).plus(TICKET_LIFETIME);
    let (late, _) = redeem(&ticket, fresh.session_id(), end);
    let outcome = s.store.redeem_ticket(late).await.unwrap();
    assert_eq!(outcome, RedeemOutcome::ExpiredTicket);
    let (req, _) = redeem(&ticket, fresh.session_id(), Millis(end.0 - 1));
    assert!(
        matches!(
            s.store.redeem_ticket(req).await.unwrap(),
            RedeemOutcome::Created { .. }
        ),
        "a millisecond earlier it still worked"
    );
}

conformance!(
    an_ask_ticket_signs_the_chosen_session_out_once,
    a_ticket_redeemed_in_parallel_wins_once,
    a_ticket_evicts_only_when_needed_and_expires,
    a_stale_session_gives_way_at_the_boundary,
    class_limits_hold_under_a_storm_of_two_classes,
    class_limits_admit_kick_and_deny_by_class,
    same_device_replaces_itself_and_touches_nobody_else,
    a_device_id_of_another_account_replaces_nothing,
    same_device_replace_racing_another_devices_sign_in,
);
