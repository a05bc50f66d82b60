//! The store conformance suite: one set of tests, run against every backend.
//!
//! `conformance!` turns each async fn below into a `#[tokio::test]` per
//! backend (memory, redis, a 3-master redis cluster), so the memory store and the Lua scripts are held
//! to the same answers. Names cite the PROTOCOL.md invariant they check.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use loginguard::domain::{
    AccountKey, Actor, AuditEntry, AuditKind, Clock, DeviceClass, DeviceName, Lifetimes, Lookup,
    Millis, OnLimit, Origin, PasswordFingerprint, Policy, Reason, Session, SessionId, SystemClock,
    Token, Username, MAX_TOMBSTONES,
};
use loginguard::events::{BusHealth, EventHandler, LocalBus, RedisBus, StoreEvent};
use loginguard::store::redis::{RedisConn, RedisTls};
use loginguard::store::{
    AuditQuery, AuditSettings, MemoryStore, RedisStore, SessionStore, SignInOutcome, SignInRequest,
    StoreError,
};
use parking_lot::Mutex;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::helpers::eventually;
use crate::redis_server::{RedisCluster, RedisServer};

pub const LIFE: Lifetimes = Lifetimes {
    idle: Duration::from_secs(1800),
    absolute: Duration::from_secs(43_200),
    touch_after: Duration::from_secs(60),
};

/// The Redis call timeout of the suite (`--redis-timeout`'s default).
const TIMEOUT: Duration = Duration::from_secs(2);

/// The audit trail's cap in the suite: small, so the cap test stays quick.
const AUDIT_CAP: usize = 50;
/// How many entries past the cap Redis may keep: `MAXLEN ~` trims whole
/// stream nodes only (`stream-node-max-entries` 100 by default).
const AUDIT_SLACK: usize = 100;
pub const INSTANCE: &str = "conformance";

fn audit_settings() -> AuditSettings {
    AuditSettings {
        instance: INSTANCE.to_owned(),
        max_entries: AUDIT_CAP,
    }
}

/// Records every event and resync a bus delivers.
#[derive(Default)]
pub struct Collector {
    events: Mutex<Vec<StoreEvent>>,
    resyncs: AtomicUsize,
}

impl EventHandler for Collector {
    fn on_event(&self, event: StoreEvent) {
        self.events.lock().push(event);
    }
    fn on_resync(&self) {
        self.resyncs.fetch_add(1, Ordering::SeqCst);
    }
}

impl Collector {
    /// Every event delivered so far, in order.
    pub fn events(&self) -> Vec<StoreEvent> {
        self.events.lock().clone()
    }

    /// Waits for an event matching `pred` and returns it.
    pub async fn wait_for(&self, what: &str, pred: impl Fn(&StoreEvent) -> bool) -> StoreEvent {
        let mut found = None;
        eventually(what, || {
            found = self.events.lock().iter().find(|e| pred(e)).cloned();
            let ok = found.is_some();
            async move { ok }
        })
        .await;
        found.expect("found")
    }
}

/// A store under test with whatever keeps it alive.
pub struct Subject {
    pub store: Arc<dyn SessionStore>,
    pub events: Arc<Collector>,
    _redis: Option<Backing>,
    _bus: Option<DropGuard>,
}

pub async fn memory() -> Subject {
    let events = Arc::new(Collector::default());
    let bus = LocalBus::new();
    bus.attach(events.clone());
    Subject {
        store: Arc::new(MemoryStore::with_audit(LIFE, bus, audit_settings())),
        events,
        _redis: None,
        _bus: None,
    }
}

pub async fn redis() -> Subject {
    redis_on(RedisServer::start()).await
}

/// A subject on `server` (a test may read the server's own counters too).
pub async fn redis_on(server: RedisServer) -> Subject {
    let conn =
        RedisConn::single(&server.url(), &RedisTls::system_roots(), TIMEOUT).expect("redis conn");
    let store = RedisStore::new(conn, "lg", LIFE).with_audit(audit_settings());
    with_bus(store, &[server.url()], Box::new(server)).await
}

pub async fn redis_cluster() -> Subject {
    let cluster = RedisCluster::start();
    let urls = cluster.urls();
    let store = RedisStore::new(
        RedisConn::cluster(
            &urls.iter().map(String::as_str).collect::<Vec<_>>(),
            &RedisTls::system_roots(),
            TIMEOUT,
        )
        .expect("cluster conn"),
        "lg",
        LIFE,
    )
    .with_audit(audit_settings());
    with_bus(store, &urls, Box::new(cluster)).await
}

/// Whatever keeps the Redis processes behind a subject alive until it drops.
type Backing = Box<dyn std::any::Any + Send + Sync>;

async fn with_bus(store: RedisStore, urls: &[String], backing: Backing) -> Subject {
    let events = Arc::new(Collector::default());
    let cancel = CancellationToken::new();
    let clients = urls
        .iter()
        .map(|u| redis::Client::open(u.as_str()).unwrap())
        .collect::<Vec<_>>();
    let bus = RedisBus::new(
        clients,
        store.keys().events_channel(),
        Arc::new(BusHealth::new(false)),
    );
    tokio::spawn(bus.run(events.clone(), cancel.clone()));
    // The bus reports a resync once subscribed; only then are events heard.
    let ev = events.clone();
    eventually("event bus subscribed", || {
        let n = ev.resyncs.load(Ordering::SeqCst);
        async move { n > 0 }
    })
    .await;
    Subject {
        store: Arc::new(store),
        events,
        _redis: Some(backing),
        _bus: Some(cancel.drop_guard()),
    }
}

pub fn user(name: &str) -> Username {
    Username::parse(name).unwrap()
}

/// A new session of `name` created at `now`, with its token.
pub fn new_session(name: &str, device: &str, now: Millis) -> (Session, Token) {
    let u = user(name);
    let mut sid = [0u8; 16];
    let mut secret = [0u8; 32];
    getrandom::fill(&mut sid).unwrap();
    getrandom::fill(&mut secret).unwrap();
    let token = Token::issue(&u, sid, secret);
    let s = Session {
        session_id: token.session_id().clone(),
        username: u,
        device: DeviceName::parse(device).unwrap(),
        ip: "198.51.100.1".into(),
        user_agent: "test".into(),
        created_at: now,
        last_seen_at: now,
        expires_at: now.plus(LIFE.absolute),
        token_hash: token.hash(),
        origin: Origin::Password,
        password: Some(PasswordFingerprint::of(
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA",
        )),
        device_class: Some(DeviceClass::parse("web").unwrap()),
        device_id: None,
    };
    (s, token)
}

pub fn policy(max: u32, on_limit: OnLimit) -> Policy {
    Policy {
        max_sessions: max,
        on_limit,
        class_limits: Default::default(),
        stale_after: None,
    }
}

async fn sign_in(
    s: &Subject,
    name: &str,
    device: &str,
    now: Millis,
    p: &Policy,
) -> (Token, SignInOutcome) {
    let (session, token) = new_session(name, device, now);
    admit(s, session, token, p).await
}

/// Signs a prepared `session` (holding `token`) in at its creation time.
pub async fn admit(
    s: &Subject,
    session: Session,
    token: Token,
    p: &Policy,
) -> (Token, SignInOutcome) {
    let now = session.created_at;
    let outcome = s
        .store
        .sign_in(SignInRequest {
            session,
            policy: p.clone(),
            now,
        })
        .await
        .expect("sign_in");
    (token, outcome)
}

pub fn now() -> Millis {
    SystemClock.now()
}

async fn storm(s: Subject, max: u32) {
    let t0 = now();
    let mut tasks = Vec::new();
    for i in 0..100u64 {
        let store = s.store.clone();
        tasks.push(tokio::spawn(async move {
            let (session, token) = new_session("storm", &format!("dev{i}"), Millis(t0.0 + i % 7));
            store
                .sign_in(SignInRequest {
                    session,
                    policy: policy(max, OnLimit::KickOldest),
                    now: Millis(t0.0 + i % 7),
                })
                .await
                .expect("sign_in");
            token
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
    assert_eq!(live.len(), max as usize, "exactly max_sessions survive");
    let mut alive = 0;
    for t in &tokens {
        match s.store.validate(t, later).await.unwrap() {
            Lookup::Live(_) => alive += 1,
            Lookup::Ended(tomb) => assert_eq!(tomb.reason, Reason::DuplicateLogin),
            Lookup::Unknown => panic!("every loser keeps a tombstone"),
        }
    }
    assert_eq!(alive, max as usize);
}

pub async fn inv1_storm_of_100_leaves_exactly_one(s: Subject) {
    storm(s, 1).await
}

pub async fn inv1_storm_of_100_leaves_exactly_max_sessions_of_3(s: Subject) {
    storm(s, 3).await
}

pub async fn kick_oldest_tombstones_the_oldest_with_the_winner_as_by(s: Subject) {
    let t = now();
    let (pc1, _) = sign_in(&s, "user1", "PC1", t, &policy(2, OnLimit::KickOldest)).await;
    let (pc2, _) = sign_in(
        &s,
        "user1",
        "PC2",
        Millis(t.0 + 1),
        &policy(2, OnLimit::KickOldest),
    )
    .await;
    let (pc3, outcome) = sign_in(
        &s,
        "user1",
        "PC3",
        Millis(t.0 + 2),
        &policy(2, OnLimit::KickOldest),
    )
    .await;
    let SignInOutcome::Created { revoked, .. } = outcome else {
        panic!("created")
    };
    assert_eq!(revoked.len(), 1);
    assert_eq!(&revoked[0].session_id, pc1.session_id(), "the oldest loses");
    let later = Millis(t.0 + 3);
    let Lookup::Ended(tomb) = s.store.validate(&pc1, later).await.unwrap() else {
        panic!("tombstone")
    };
    assert_eq!(tomb.reason, Reason::DuplicateLogin);
    assert_eq!(tomb.revoked_at, Millis(t.0 + 2));
    let by = tomb.by.expect("by");
    assert_eq!(by.device.as_str(), "PC3");
    assert_eq!(by.ip, "198.51.100.1");
    assert!(matches!(
        s.store.validate(&pc2, later).await.unwrap(),
        Lookup::Live(_)
    ));
    assert!(matches!(
        s.store.validate(&pc3, later).await.unwrap(),
        Lookup::Live(_)
    ));
    let event = s
        .events
        .wait_for(
            "signed_in with a revoked session",
            |e| matches!(e, StoreEvent::SignedIn { revoked, .. } if !revoked.is_empty()),
        )
        .await;
    let StoreEvent::SignedIn {
        id,
        revoked,
        replaced,
        by,
        username,
    } = event
    else {
        unreachable!()
    };
    assert_eq!(&id, pc3.session_id());
    assert_eq!(revoked, vec![pc1.session_id().clone()]);
    assert_eq!(replaced, None, "different devices never replace each other");
    assert_eq!(by.device.as_str(), "PC3");
    assert_eq!(username.as_str(), "user1");
}

pub async fn deny_new_refuses_and_changes_nothing(s: Subject) {
    let t = now();
    let (pc1, _) = sign_in(&s, "user1", "PC1", t, &policy(1, OnLimit::DenyNew)).await;
    let (pc2, outcome) = sign_in(
        &s,
        "user1",
        "PC2",
        Millis(t.0 + 1),
        &policy(1, OnLimit::DenyNew),
    )
    .await;
    let SignInOutcome::Denied { active, .. } = outcome else {
        panic!("denied")
    };
    assert_eq!(active.len(), 1);
    assert_eq!(&active[0].session_id, pc1.session_id());
    let later = Millis(t.0 + 2);
    assert!(matches!(
        s.store.validate(&pc1, later).await.unwrap(),
        Lookup::Live(_)
    ));
    assert_eq!(
        s.store.validate(&pc2, later).await.unwrap(),
        Lookup::Unknown
    );
    let blocked = s
        .events
        .wait_for("login_blocked", |e| {
            matches!(e, StoreEvent::LoginBlocked { .. })
        })
        .await;
    let StoreEvent::LoginBlocked { by, .. } = blocked else {
        unreachable!()
    };
    assert_eq!(by.device.as_str(), "PC2");
}

pub async fn per_account_policies_are_independent(s: Subject) {
    let t = now();
    sign_in(&s, "alice", "A1", t, &policy(2, OnLimit::KickOldest)).await;
    sign_in(
        &s,
        "alice",
        "A2",
        Millis(t.0 + 1),
        &policy(2, OnLimit::KickOldest),
    )
    .await;
    sign_in(&s, "bob", "B1", t, &policy(1, OnLimit::KickOldest)).await;
    sign_in(
        &s,
        "bob",
        "B2",
        Millis(t.0 + 1),
        &policy(1, OnLimit::KickOldest),
    )
    .await;
    let later = Millis(t.0 + 2);
    assert_eq!(
        s.store
            .list(&AccountKey::of(&user("alice")), later)
            .await
            .unwrap()
            .len(),
        2
    );
    let bob = s
        .store
        .list(&AccountKey::of(&user("bob")), later)
        .await
        .unwrap();
    assert_eq!(bob.len(), 1);
    assert_eq!(bob[0].device.as_str(), "B2");
}

pub async fn inv5_tombstone_lives_as_long_as_the_token_would(s: Subject) {
    let t = now();
    let (tok, _) = sign_in(&s, "user1", "PC1", t, &policy(1, OnLimit::KickOldest)).await;
    let key = AccountKey::of(&user("user1"));
    let ended = s
        .store
        .revoke(
            &key,
            tok.session_id(),
            Reason::RevokedByAdmin,
            None,
            Millis(t.0 + 5),
        )
        .await
        .unwrap();
    assert!(ended.is_some());
    let end_of_life = t.plus(LIFE.absolute);
    let Lookup::Ended(tomb) = s
        .store
        .validate(&tok, Millis(end_of_life.0 - 1))
        .await
        .unwrap()
    else {
        panic!("tombstone until the token's end of life")
    };
    assert_eq!(tomb.reason, Reason::RevokedByAdmin);
    assert_eq!(tomb.by, None);
    assert_eq!(
        s.store.validate(&tok, end_of_life).await.unwrap(),
        Lookup::Unknown
    );
}

pub async fn idle_expiry_ends_the_session_with_reason_expired(s: Subject) {
    let t = now();
    let (tok, _) = sign_in(&s, "user1", "PC1", t, &policy(1, OnLimit::KickOldest)).await;
    let key = AccountKey::of(&user("user1"));
    let just_before = Millis(t.0 + LIFE.idle.as_millis() as u64 - 1);
    assert_eq!(s.store.list(&key, just_before).await.unwrap().len(), 1);
    let idle_end = t.plus(LIFE.idle);
    assert!(
        s.store.list(&key, idle_end).await.unwrap().is_empty(),
        "expired sessions vanish from lists"
    );
    let Lookup::Ended(tomb) = s.store.validate(&tok, idle_end).await.unwrap() else {
        panic!("expired tombstone")
    };
    assert_eq!(tomb.reason, Reason::Expired);
    let event = s
        .events
        .wait_for("expired event", |e| {
            matches!(
                e,
                StoreEvent::Revoked {
                    reason: Reason::Expired,
                    ..
                }
            )
        })
        .await;
    let StoreEvent::Revoked { ids, by, .. } = event else {
        unreachable!()
    };
    assert_eq!(ids, vec![tok.session_id().clone()]);
    assert_eq!(by, None);
}

pub async fn use_slides_the_idle_timeout_but_writes_only_when_stale(s: Subject) {
    let t = now();
    let (tok, _) = sign_in(&s, "user1", "PC1", t, &policy(1, OnLimit::KickOldest)).await;
    // Within touch_after: no write.
    let Lookup::Live(a) = s.store.validate(&tok, Millis(t.0 + 30_000)).await.unwrap() else {
        panic!()
    };
    assert_eq!(a.last_seen_at, t);
    // Past touch_after: written.
    let used = Millis(t.0 + 120_000);
    s.store
        .touch(&AccountKey::of(&user("user1")), tok.session_id(), used)
        .await
        .unwrap();
    let Lookup::Live(b) = s.store.validate(&tok, Millis(used.0 + 1)).await.unwrap() else {
        panic!()
    };
    assert_eq!(b.last_seen_at, used);
    // Alive past the original idle end because it was used.
    let after_original_idle = Millis(t.0 + LIFE.idle.as_millis() as u64 + 1);
    assert!(matches!(
        s.store.validate(&tok, after_original_idle).await.unwrap(),
        Lookup::Live(_)
    ));
}

/// A check of a live, recently used session still ends the account's other
/// sessions that expired meanwhile (on Redis such a check is otherwise a
/// plain read; `store/redis/lookup.rs`).
pub async fn a_check_of_a_fresh_session_ends_the_account_s_expired_ones(s: Subject) {
    let t = now();
    let p = policy(2, OnLimit::KickOldest);
    let (old, _) = sign_in(&s, "user1", "PC1", t, &p).await;
    let idle_end = t.plus(LIFE.idle);
    // Used half a touch interval before the old one's idle end.
    let later = Millis(idle_end.0 - LIFE.touch_after.as_millis() as u64 / 2);
    let (fresh, _) = sign_in(&s, "user1", "PC2", later, &p).await;
    let Lookup::Live(live) = s.store.validate(&fresh, idle_end).await.unwrap() else {
        panic!("the fresh session is live")
    };
    assert_eq!(
        live.last_seen_at, later,
        "a use within the touch interval writes nothing"
    );
    s.events
        .wait_for("the old session's expiry", |e| {
            matches!(e, StoreEvent::Revoked { reason: Reason::Expired, ids, .. }
                if ids == &vec![old.session_id().clone()])
        })
        .await;
    let Lookup::Ended(tomb) = s.store.validate(&old, idle_end).await.unwrap() else {
        panic!("the old session ended")
    };
    assert_eq!(tomb.reason, Reason::Expired);
}

/// A session's origin and password fingerprint come back as stored, also
/// after a touch rewrote the record (the Lua scripts re-encode it), and the
/// reasons of a users-file reload are kept in the tombstone.
pub async fn a_session_keeps_its_origin_and_password_fingerprint(s: Subject) {
    let t = now();
    let (session, token) = new_session("user1", "PC1", t);
    s.store
        .sign_in(SignInRequest {
            session: session.clone(),
            policy: policy(1, OnLimit::KickOldest),
            now: t,
        })
        .await
        .unwrap();
    let used = Millis(t.0 + 120_000);
    let Lookup::Live(touched) = s.store.validate(&token, used).await.unwrap() else {
        panic!("live expected")
    };
    let expected = Session {
        last_seen_at: used,
        ..session
    };
    assert_eq!(touched, expected);
    let key = AccountKey::of(&user("user1"));
    assert_eq!(
        s.store.list(&key, used).await.unwrap(),
        vec![expected.clone()]
    );
    let ended = s
        .store
        .revoke(&key, token.session_id(), Reason::AccountRemoved, None, used)
        .await
        .unwrap();
    assert_eq!(ended, Some(expected));
    let Lookup::Ended(tomb) = s.store.validate(&token, used).await.unwrap() else {
        panic!("tombstone expected")
    };
    assert_eq!(tomb.reason, Reason::AccountRemoved);
}

pub async fn absolute_lifetime_ends_even_a_busy_session(s: Subject) {
    let t = now();
    let (tok, _) = sign_in(&s, "user1", "PC1", t, &policy(1, OnLimit::KickOldest)).await;
    let key = AccountKey::of(&user("user1"));
    let mut at = t;
    while at.0 + 1_000_000 < t.plus(LIFE.absolute).0 {
        at = Millis(at.0 + 1_000_000);
        s.store.touch(&key, tok.session_id(), at).await.unwrap();
    }
    let Lookup::Ended(tomb) = s.store.validate(&tok, t.plus(LIFE.absolute)).await.unwrap() else {
        panic!("absolute expiry")
    };
    assert_eq!(tomb.reason, Reason::Expired);
}

pub async fn a_forged_token_for_a_live_session_id_is_unknown(s: Subject) {
    let t = now();
    let (tok, _) = sign_in(&s, "user1", "PC1", t, &policy(1, OnLimit::KickOldest)).await;
    let mut sid = [0u8; 16];
    hex::decode_to_slice(&tok.session_id().as_str()[2..], &mut sid).unwrap();
    let forged = Token::issue(&user("user1"), sid, [7; 32]);
    assert_eq!(forged.session_id(), tok.session_id());
    assert_eq!(
        s.store.validate(&forged, Millis(t.0 + 1)).await.unwrap(),
        Lookup::Unknown
    );
}

pub async fn revoke_one_and_revoke_account(s: Subject) {
    let t = now();
    let p = policy(3, OnLimit::KickOldest);
    let (a, _) = sign_in(&s, "user1", "A", t, &p).await;
    let (b, _) = sign_in(&s, "user1", "B", Millis(t.0 + 1), &p).await;
    let (c, _) = sign_in(&s, "user1", "C", Millis(t.0 + 2), &p).await;
    let key = AccountKey::of(&user("user1"));
    let by = Actor {
        device: DeviceName::parse("B").unwrap(),
        ip: "198.51.100.1".into(),
        at: Millis(t.0 + 3),
    };
    let ended = s
        .store
        .revoke(
            &key,
            a.session_id(),
            Reason::RevokedByUser,
            Some(by.clone()),
            Millis(t.0 + 3),
        )
        .await
        .unwrap();
    assert_eq!(ended.map(|s| s.session_id), Some(a.session_id().clone()));
    assert_eq!(
        s.store
            .revoke(
                &key,
                a.session_id(),
                Reason::RevokedByUser,
                None,
                Millis(t.0 + 4)
            )
            .await
            .unwrap(),
        None,
        "already revoked"
    );
    let Lookup::Ended(tomb) = s.store.validate(&a, Millis(t.0 + 5)).await.unwrap() else {
        panic!()
    };
    assert_eq!(tomb.by, Some(by));
    // Another account's key cannot reach this session.
    let other = AccountKey::of(&user("user2"));
    assert_eq!(
        s.store
            .revoke(
                &other,
                b.session_id(),
                Reason::RevokedByUser,
                None,
                Millis(t.0 + 5)
            )
            .await
            .unwrap(),
        None
    );

    assert_eq!(
        s.store
            .revoke_account(&user("user1"), Reason::RevokedByAdmin, Millis(t.0 + 6))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        s.store
            .revoke_account(&user("nobody"), Reason::RevokedByAdmin, Millis(t.0 + 6))
            .await
            .unwrap(),
        0
    );
    for tok in [&b, &c] {
        let Lookup::Ended(t) = s.store.validate(tok, Millis(t.0 + 7)).await.unwrap() else {
            panic!()
        };
        assert_eq!(t.reason, Reason::RevokedByAdmin);
    }
    s.events
        .wait_for("admin revocation event", |e| {
            matches!(e, StoreEvent::Revoked { reason: Reason::RevokedByAdmin, ids, .. } if ids.len() == 2)
        })
        .await;
}

pub async fn list_all_and_check_see_every_account(s: Subject) {
    let t = now();
    let p = policy(1, OnLimit::KickOldest);
    let (a, _) = sign_in(&s, "user1", "A", t, &p).await;
    let (b, _) = sign_in(&s, "user2", "B", t, &p).await;
    let (old, _) = sign_in(&s, "user3", "C", t, &p).await;
    let (_c, _) = sign_in(&s, "user3", "D", Millis(t.0 + 1), &p).await;
    let all = s.store.list_all(Millis(t.0 + 2)).await.unwrap();
    assert_eq!(all.len(), 3);
    let refs = vec![
        (AccountKey::of(&user("user1")), a.session_id().clone()),
        (AccountKey::of(&user("user2")), b.session_id().clone()),
        (AccountKey::of(&user("user3")), old.session_id().clone()),
        (AccountKey::of(&user("user9")), a.session_id().clone()),
    ];
    let got = s.store.check(&refs, Millis(t.0 + 2)).await.unwrap();
    assert!(matches!(got[0], Lookup::Live(_)));
    assert!(matches!(got[1], Lookup::Live(_)));
    assert!(matches!(&got[2], Lookup::Ended(t) if t.reason == Reason::DuplicateLogin));
    assert_eq!(got[3], Lookup::Unknown);
    assert!(s.store.ping().await.is_ok());
}

/// A session found by its id alone (a trusted backend's `DELETE
/// /api/v1/sessions/{id}`): on Redis the id's index key lives in its own
/// slot, so the cluster run proves it is written beside the sign-in script.
pub async fn a_live_session_is_located_by_its_id_alone(s: Subject) {
    let t = now();
    let p = policy(1, OnLimit::KickOldest);
    let (alice, _) = sign_in(&s, "alice", "A", t, &p).await;
    let (bob, _) = sign_in(&s, "bob", "B", t, &p).await;
    let alice_key = AccountKey::of(&user("alice"));
    assert_eq!(
        s.store.locate(alice.session_id()).await.unwrap(),
        Some(alice_key.clone())
    );
    assert_eq!(
        s.store.locate(bob.session_id()).await.unwrap(),
        Some(AccountKey::of(&user("bob")))
    );
    let never = SessionId::from_bytes([7; 16]);
    assert_eq!(s.store.locate(&never).await.unwrap(), None);

    let ended = s
        .store
        .revoke(
            &alice_key,
            alice.session_id(),
            Reason::RevokedByApp,
            None,
            t,
        )
        .await
        .unwrap();
    assert!(ended.is_some());
    let Lookup::Ended(tomb) = s.store.validate(&alice, t).await.unwrap() else {
        panic!("tombstone expected")
    };
    assert_eq!(tomb.reason, Reason::RevokedByApp);
    assert!(matches!(
        s.store.validate(&bob, t).await.unwrap(),
        Lookup::Live(_)
    ));
}

pub async fn tombstones_per_account_are_capped(s: Subject) {
    let t = now();
    let p = policy(1, OnLimit::KickOldest);
    let mut tokens = Vec::new();
    for i in 0..(MAX_TOMBSTONES as u64 + 6) {
        tokens.push(sign_in(&s, "churn", "dev", Millis(t.0 + i), &p).await.0);
    }
    let later = Millis(t.0 + 10_000);
    for (i, tok) in tokens.iter().enumerate() {
        let got = s.store.validate(tok, later).await.unwrap();
        match i {
            0..=4 => assert_eq!(
                got,
                Lookup::Unknown,
                "token {i}: the oldest tombstones are forgotten"
            ),
            _ if i == tokens.len() - 1 => {
                assert!(matches!(got, Lookup::Live(_)), "the newest is live")
            }
            _ => assert!(
                matches!(got, Lookup::Ended(_)),
                "token {i} keeps its tombstone"
            ),
        }
    }
}

/// The sign-in request of a new `device` session of `name` at `at`.
fn request(name: &str, device: &str, at: Millis, p: Policy) -> (SignInRequest, Token) {
    let (session, token) = new_session(name, device, at);
    let req = SignInRequest {
        session,
        policy: p,
        now: at,
    };
    (req, token)
}

/// A lost reply makes the caller (or the Redis Cluster client) send the same
/// request again: the re-run must answer as the first run did, not apply the
/// policy a second time against the session the first run created.
pub async fn a_sign_in_run_twice_answers_as_its_first_run(s: Subject) {
    let t = now();
    let p = policy(1, OnLimit::KickOldest);
    let (old, _) = sign_in(&s, "user1", "PC1", t, &p).await;
    let (req, token) = request("user1", "PC2", Millis(t.0 + 1), p);
    let first = s.store.sign_in(req.clone()).await.unwrap();
    let again = s.store.sign_in(req).await.unwrap();
    assert_eq!(again, first);
    let SignInOutcome::Created { revoked, .. } = first else {
        panic!("created")
    };
    assert_eq!(revoked.len(), 1);
    assert_eq!(&revoked[0].session_id, old.session_id());
    let live = s
        .store
        .list(&AccountKey::of(&user("user1")), Millis(t.0 + 2))
        .await
        .unwrap();
    assert_eq!(live.len(), 1, "exactly one session: {live:?}");
    assert_eq!(&live[0].session_id, token.session_id());
}

pub async fn a_sign_in_run_twice_under_deny_new_is_not_denied_by_itself(s: Subject) {
    let t = now();
    let p = policy(1, OnLimit::DenyNew);
    let (req, token) = request("user1", "PC1", t, p);
    let first = s.store.sign_in(req.clone()).await.unwrap();
    assert_eq!(
        first,
        SignInOutcome::Created {
            revoked: vec![],
            replaced: None,
            on_limit: OnLimit::DenyNew,
        }
    );
    assert_eq!(s.store.sign_in(req).await.unwrap(), first);
    assert!(matches!(
        s.store.validate(&token, Millis(t.0 + 1)).await.unwrap(),
        Lookup::Live(_)
    ));
}

pub async fn a_revoke_run_twice_answers_as_its_first_run(s: Subject) {
    let t = now();
    let p = policy(3, OnLimit::KickOldest);
    let (a, _) = sign_in(&s, "user1", "A", t, &p).await;
    sign_in(&s, "user1", "B", Millis(t.0 + 1), &p).await;
    let key = AccountKey::of(&user("user1"));
    let at = Millis(t.0 + 2);
    let revoke_a = || {
        s.store
            .revoke(&key, a.session_id(), Reason::RevokedByUser, None, at)
    };
    let first = revoke_a().await.unwrap();
    assert_eq!(first.as_ref().map(|s| &s.session_id), Some(a.session_id()));
    assert_eq!(
        revoke_a().await.unwrap(),
        first,
        "the re-run says ended too"
    );
    let name = user("user1");
    let revoke_all = || {
        s.store
            .revoke_account(&name, Reason::RevokedByAdmin, Millis(t.0 + 4))
    };
    assert_eq!(revoke_all().await.unwrap(), 1);
    assert_eq!(revoke_all().await.unwrap(), 1, "the re-run counts the same");
    assert!(s
        .store
        .list(&key, Millis(t.0 + 5))
        .await
        .unwrap()
        .is_empty());
}

/// The undo of a sign-in whose reply was lost: its session ends, the undo can
/// be re-run, and a late run of the sign-in (retry, Cluster client) does nothing.
pub async fn an_undone_sign_in_ends_its_session_and_never_runs_again(s: Subject) {
    let t = now();
    let p = policy(1, OnLimit::DenyNew);
    let key = AccountKey::of(&user("user1"));
    let (req, token) = request("user1", "PC1", t, p.clone());
    let id = token.session_id();
    s.store.sign_in(req.clone()).await.unwrap();
    assert!(s
        .store
        .undo_sign_in(&key, id, Millis(t.0 + 1))
        .await
        .unwrap());
    assert!(
        s.store
            .undo_sign_in(&key, id, Millis(t.0 + 2))
            .await
            .unwrap(),
        "a re-run of the undo answers as its first run"
    );
    let Lookup::Ended(tomb) = s.store.validate(&token, Millis(t.0 + 3)).await.unwrap() else {
        panic!("the undone session ended")
    };
    assert_eq!(tomb.reason, Reason::Logout);
    assert!(matches!(
        s.store.sign_in(req).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(s
        .store
        .list(&key, Millis(t.0 + 4))
        .await
        .unwrap()
        .is_empty());

    // Undone before it ever ran: when it does arrive, it writes nothing.
    let (late, _) = request("user1", "PC2", Millis(t.0 + 5), p.clone());
    let late_id = late.session.session_id.clone();
    assert!(!s
        .store
        .undo_sign_in(&key, &late_id, Millis(t.0 + 5))
        .await
        .unwrap());
    assert!(s.store.sign_in(late).await.is_err());
    assert!(s
        .store
        .list(&key, Millis(t.0 + 6))
        .await
        .unwrap()
        .is_empty());
    let (_, outcome) = sign_in(&s, "user1", "PC3", Millis(t.0 + 7), &p).await;
    assert!(
        matches!(outcome, SignInOutcome::Created { .. }),
        "deny_new does not count undone sign-ins"
    );
    s.events
        .wait_for("the undo's logout event", |e| {
            matches!(e, StoreEvent::Revoked { reason: Reason::Logout, ids, .. } if ids.as_slice() == std::slice::from_ref(id))
        })
        .await;
}

/// The whole trail of `name`, newest first, read a page of `limit` at a time.
/// A session nobody presents, lists or watches still gets its `expired`
/// entry once it lapses: the sweep's `maintain` buries it.
pub async fn maintain_ends_a_session_that_lapses_unseen(s: Subject) {
    let t = now();
    let (tok, _) = sign_in(&s, "unseen", "PC1", t, &policy(1, OnLimit::KickOldest)).await;
    let later = t.plus(LIFE.absolute);
    let expired_entries = |trail: &[AuditEntry]| {
        trail
            .iter()
            .filter(|e| e.record.kind == AuditKind::Expired)
            .count()
    };
    // A pass over the accounts index ends within a few calls; every call
    // after the one that ended it finds nothing more.
    let mut ended = 0;
    for _ in 0..10 {
        ended += s.store.maintain(later).await.expect("maintain");
    }
    assert_eq!(ended, 1, "one session lapsed, and it is ended once");
    let trail = audit_of(&s, Some("unseen"), 10).await;
    assert_eq!(expired_entries(&trail), 1, "{trail:?}");
    let entry = trail
        .iter()
        .find(|e| e.record.kind == AuditKind::Expired)
        .unwrap();
    assert_eq!(entry.record.session_id.as_ref(), Some(tok.session_id()));
    let Lookup::Ended(tomb) = s.store.validate(&tok, later).await.unwrap() else {
        panic!("a tombstone after maintain")
    };
    assert_eq!(tomb.reason, Reason::Expired);
    assert_eq!(expired_entries(&audit_of(&s, Some("unseen"), 10).await), 1);
}

pub async fn audit_of(s: &Subject, name: Option<&str>, limit: usize) -> Vec<AuditEntry> {
    let mut all = Vec::new();
    let mut before = None;
    loop {
        let page = s
            .store
            .audit(&AuditQuery {
                before,
                limit,
                username: name.map(user),
            })
            .await
            .expect("audit page");
        assert!(page.entries.len() <= limit);
        all.extend(page.entries);
        match page.next {
            Some(next) => before = Some(next),
            None => return all,
        }
    }
}

pub async fn the_audit_trail_has_one_entry_per_change_in_order(s: Subject) {
    let t = now();
    let kick = policy(1, OnLimit::KickOldest);
    let (pc1, _) = sign_in(&s, "audited", "PC1", t, &kick).await;
    let (pc2, _) = sign_in(&s, "audited", "PC2", Millis(t.0 + 1), &kick).await;
    let key = AccountKey::of(&user("audited"));
    s.store
        .revoke(
            &key,
            pc2.session_id(),
            Reason::Logout,
            None,
            Millis(t.0 + 2),
        )
        .await
        .unwrap();
    let (pc3, _) = sign_in(&s, "audited", "PC3", Millis(t.0 + 3), &kick).await;
    let (_, denied) = sign_in(
        &s,
        "audited",
        "PC4",
        Millis(t.0 + 4),
        &policy(1, OnLimit::DenyNew),
    )
    .await;
    assert!(matches!(denied, SignInOutcome::Denied { .. }));
    s.store
        .record_failed_sign_in(
            &user("audited"),
            &DeviceName::parse("PC5").unwrap(),
            "203.0.113.9",
            Millis(t.0 + 5),
        )
        .await
        .unwrap();
    s.store
        .revoke_account(&user("audited"), Reason::RevokedByAdmin, Millis(t.0 + 6))
        .await
        .unwrap();
    let (pc6, _) = sign_in(&s, "audited", "PC6", Millis(t.0 + 7), &kick).await;
    // Found expired by a check (the sweep's call), long after its idle timeout.
    let late = Millis(t.0 + 7).plus(LIFE.idle);
    s.store
        .check(&[(key.clone(), pc6.session_id().clone())], late)
        .await
        .unwrap();
    sign_in(&s, "someone-else", "X", Millis(t.0 + 8), &kick).await;

    let entries = audit_of(&s, Some("audited"), 3).await;
    let seen: Vec<(AuditKind, Option<&str>, Option<Reason>)> = entries
        .iter()
        .rev()
        .map(|e| {
            let r = &e.record;
            (r.kind, r.device.as_ref().map(DeviceName::as_str), r.reason)
        })
        .collect();
    use AuditKind::*;
    assert_eq!(
        seen,
        vec![
            (SignedIn, Some("PC1"), None),
            (Revoked, Some("PC1"), Some(Reason::DuplicateLogin)),
            (SignedIn, Some("PC2"), None),
            (SignedOut, Some("PC2"), Some(Reason::Logout)),
            (SignedIn, Some("PC3"), None),
            (Denied, Some("PC4"), None),
            (SignInFailed, Some("PC5"), None),
            (Revoked, Some("PC3"), Some(Reason::RevokedByAdmin)),
            (SignedIn, Some("PC6"), None),
            (Expired, Some("PC6"), Some(Reason::Expired)),
        ],
        "oldest first here; each page came newest first"
    );
    let ids: Vec<_> = entries.iter().map(|e| e.id).collect();
    assert!(
        ids.windows(2).all(|w| w[0] > w[1]),
        "newest first, no repeats: {ids:?}"
    );
    let pushed_out = &entries[entries.len() - 2].record;
    assert_eq!(pushed_out.session_id.as_ref(), Some(pc1.session_id()));
    let by = pushed_out.by.as_ref().expect("the new device is `by`");
    assert_eq!((by.device.as_str(), by.at), ("PC2", Millis(t.0 + 1)));
    assert_eq!(pushed_out.at, Millis(t.0 + 1));
    assert_eq!(pushed_out.ip.as_deref(), Some("198.51.100.1"));
    let by_kind = |k: AuditKind| entries.iter().find(|e| e.record.kind == k).unwrap();
    assert_eq!(by_kind(Denied).record.session_id, None, "never a session");
    assert_eq!(
        by_kind(SignInFailed).record.ip.as_deref(),
        Some("203.0.113.9")
    );
    assert_eq!(
        by_kind(Revoked).record.session_id.as_ref(),
        Some(pc3.session_id())
    );
    assert_eq!(by_kind(Expired).record.at, late);
    for e in &entries {
        assert_eq!(e.record.instance, INSTANCE);
        assert_eq!(e.record.username.as_str(), "audited");
        let json = serde_json::to_string(&e.record).unwrap();
        for token in [&pc1, &pc2, &pc3, &pc6] {
            assert!(!json.contains(token.hash().as_str()), "{json}");
            assert!(!json.contains(token.expose()), "{json}");
        }
        assert!(
            !json.contains("argon2") && !json.contains("\"pw\""),
            "{json}"
        );
    }
    let everyone = audit_of(&s, None, 1000).await;
    assert_eq!(everyone.len(), entries.len() + 1);
    assert_eq!(everyone[0].record.username.as_str(), "someone-else");
    // Forwards, as a consumer that remembers the last id it handled.
    let mut in_order = everyone.clone();
    in_order.reverse();
    assert_eq!(s.store.audit_after(None, 1000).await.unwrap(), in_order);
    let after_third = s.store.audit_after(Some(in_order[2].id), 2).await.unwrap();
    assert_eq!(after_third, in_order[3..5].to_vec());
    let last = in_order.last().unwrap().id;
    assert!(s
        .store
        .audit_after(Some(last), 10)
        .await
        .unwrap()
        .is_empty());
}

pub async fn the_audit_trail_is_capped_and_keeps_the_newest(s: Subject) {
    let t = now();
    let kick = policy(1, OnLimit::KickOldest);
    let mut last = None;
    for i in 0..100u64 {
        let (tok, _) = sign_in(&s, "busy", &format!("D{i}"), Millis(t.0 + i), &kick).await;
        last = Some(tok);
    }
    // 199 entries: every sign-in, and every one but the first pushed one out.
    let kept = audit_of(&s, None, 7).await;
    assert!(
        (AUDIT_CAP..=AUDIT_CAP + AUDIT_SLACK).contains(&kept.len()),
        "{} kept",
        kept.len()
    );
    let newest = &kept[0].record;
    assert_eq!(newest.kind, AuditKind::SignedIn);
    assert_eq!(newest.session_id.as_ref(), Some(last.unwrap().session_id()));
    assert_eq!(newest.device.as_ref().unwrap().as_str(), "D99");
    let oldest = kept.last().unwrap();
    assert!(oldest.record.at > Millis(t.0), "the oldest were dropped");
    let one = s
        .store
        .audit(&AuditQuery {
            before: Some(kept[0].id),
            limit: 1,
            username: None,
        })
        .await
        .unwrap();
    assert_eq!(
        one.entries,
        vec![kept[1].clone()],
        "a cursor continues after its entry"
    );
}

/// Runs each named suite function (in the invoking module) on every store.
/// Other modules of the suite (`policies_store.rs`) invoke it too.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod on_memory {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name($crate::store::memory().await).await } )*
        }
        mod on_redis {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name($crate::store::redis().await).await } )*
        }
        /// The cluster run is what proves every script touches one slot only:
        /// a stray key would fail with CROSSSLOT.
        mod on_redis_cluster {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name($crate::store::redis_cluster().await).await } )*
        }
    };
}

conformance!(
    inv1_storm_of_100_leaves_exactly_one,
    inv1_storm_of_100_leaves_exactly_max_sessions_of_3,
    kick_oldest_tombstones_the_oldest_with_the_winner_as_by,
    deny_new_refuses_and_changes_nothing,
    per_account_policies_are_independent,
    inv5_tombstone_lives_as_long_as_the_token_would,
    idle_expiry_ends_the_session_with_reason_expired,
    use_slides_the_idle_timeout_but_writes_only_when_stale,
    a_check_of_a_fresh_session_ends_the_account_s_expired_ones,
    a_session_keeps_its_origin_and_password_fingerprint,
    absolute_lifetime_ends_even_a_busy_session,
    a_forged_token_for_a_live_session_id_is_unknown,
    revoke_one_and_revoke_account,
    list_all_and_check_see_every_account,
    tombstones_per_account_are_capped,
    a_sign_in_run_twice_answers_as_its_first_run,
    a_sign_in_run_twice_under_deny_new_is_not_denied_by_itself,
    a_revoke_run_twice_answers_as_its_first_run,
    an_undone_sign_in_ends_its_session_and_never_runs_again,
    a_live_session_is_located_by_its_id_alone,
    the_audit_trail_has_one_entry_per_change_in_order,
    the_audit_trail_is_capped_and_keeps_the_newest,
    maintain_ends_a_session_that_lapses_unseen,
);
