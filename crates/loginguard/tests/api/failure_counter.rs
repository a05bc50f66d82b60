//! The failure counter conformance suite: `MemoryFailures` (which runs
//! `domain::FailureWindow`) and the Redis scripts that mirror it must give
//! the same answers, on standalone Redis and on a 3-master cluster.
//!
//! `conformance!` turns each async fn below into a test per backend. Time is
//! an argument, so windows are crossed without waiting.

use std::sync::Arc;
use std::time::Duration;

use loginguard::domain::Clock;
use loginguard::domain::{
    AccountKey, Admission, DeviceId, Lifetimes, Millis, SystemClock, Username, FAILURE_WINDOW,
};
use loginguard::store::redis::{RedisConn, RedisTls};
use loginguard::store::{FailureCounter, FailureKey, MemoryFailures, RedisStore};

use crate::redis_server::{RedisCluster, RedisServer};

/// A counter under test and whatever keeps its Redis alive.
pub struct Subject {
    counter: Arc<dyn FailureCounter>,
    _redis: Option<Box<dyn std::any::Any + Send + Sync>>,
}

const LIFE: Lifetimes = Lifetimes {
    idle: Duration::from_secs(1800),
    absolute: Duration::from_secs(43_200),
    touch_after: Duration::from_secs(60),
};

async fn memory() -> Subject {
    Subject {
        counter: Arc::new(MemoryFailures::new()),
        _redis: None,
    }
}

async fn redis() -> Subject {
    let server = RedisServer::start();
    let conn = RedisConn::single(
        &server.url(),
        &RedisTls::system_roots(),
        Duration::from_secs(2),
    )
    .expect("redis conn");
    let store = RedisStore::new(conn, "lg", LIFE);
    Subject {
        counter: Arc::new(store),
        _redis: Some(Box::new(server)),
    }
}

async fn redis_cluster() -> Subject {
    let cluster = RedisCluster::start();
    let urls = cluster.urls();
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    let conn = RedisConn::cluster(&urls, &RedisTls::system_roots(), Duration::from_secs(2))
        .expect("cluster conn");
    Subject {
        counter: Arc::new(RedisStore::new(conn, "lg", LIFE)),
        _redis: Some(Box::new(cluster)),
    }
}

fn account(name: &str) -> FailureKey {
    FailureKey::Account(AccountKey::of(&Username::parse(name).unwrap()))
}

/// `secs` after a start the tests share (the wall clock's now).
fn at(start: Millis, secs: u64) -> Millis {
    start.plus(Duration::from_secs(secs))
}

impl Subject {
    async fn admit(&self, key: &FailureKey, limit: u32, now: Millis) -> Admission {
        self.counter.admit(key, limit, now).await.expect("admit")
    }

    /// Admits one check and returns its window; panics on anything else.
    async fn admitted(&self, key: &FailureKey, limit: u32, now: Millis) -> Millis {
        match self.admit(key, limit, now).await {
            Admission::Admitted { window } => window,
            other => panic!("expected admission, got {other:?}"),
        }
    }

    async fn settle(&self, key: &FailureKey, window: Millis, failed: bool, now: Millis) {
        self.counter
            .settle(key, window, failed, now)
            .await
            .expect("settle");
    }
}

pub async fn refuses_after_the_limit_until_the_window_ends(s: Subject) {
    let (k, t) = (account("a"), SystemClock.now());
    for _ in 0..3 {
        let w = s.admitted(&k, 3, t).await;
        s.settle(&k, w, true, t).await;
    }
    let refused = s.admit(&k, 3, at(t, 10)).await;
    let retry_after = Duration::from_secs(50);
    assert_eq!(refused, Admission::Refused { retry_after });
    assert_eq!(
        s.admitted(&k, 3, at(t, 60)).await,
        at(t, 60),
        "a new window"
    );
}

pub async fn checks_in_flight_make_others_wait_and_successes_count_nothing(s: Subject) {
    let (k, t) = (account("a"), SystemClock.now());
    let first = s.admitted(&k, 2, t).await;
    let second = s.admitted(&k, 2, t).await;
    assert_eq!(s.admit(&k, 2, t).await, Admission::Wait);
    s.settle(&k, first, false, t).await;
    let third = s.admitted(&k, 2, t).await;
    s.settle(&k, second, true, t).await;
    s.settle(&k, third, true, t).await;
    assert!(matches!(s.admit(&k, 2, t).await, Admission::Refused { .. }));
}

pub async fn a_check_of_the_window_before_counts_and_fails_into_the_new_one(s: Subject) {
    let (k, t) = (account("a"), SystemClock.now());
    let old = s.admitted(&k, 1, t).await;
    assert_eq!(s.admit(&k, 1, at(t, 61)).await, Admission::Wait);
    s.settle(&k, old, true, at(t, 62)).await;
    let refused = s.admit(&k, 1, at(t, 62)).await;
    let retry_after = Duration::from_secs(59);
    assert_eq!(refused, Admission::Refused { retry_after });
}

pub async fn a_check_never_settled_stops_counting_two_windows_later(s: Subject) {
    let (k, t) = (account("a"), SystemClock.now());
    let lost = s.admitted(&k, 1, t).await;
    assert_eq!(s.admit(&k, 1, at(t, 61)).await, Admission::Wait);
    let next = s.admitted(&k, 1, at(t, 130)).await;
    s.settle(&k, lost, false, at(t, 131)).await;
    assert_eq!(
        s.admit(&k, 1, at(t, 131)).await,
        Admission::Wait,
        "still in flight"
    );
    s.settle(&k, next, false, at(t, 131)).await;
    s.admitted(&k, 1, at(t, 131)).await;
}

pub async fn counters_are_independent(s: Subject) {
    let t = SystemClock.now();
    let user = AccountKey::of(&Username::parse("u").unwrap());
    let device = DeviceId::from_bytes([7; 16]);
    let locked = FailureKey::Account(user.clone());
    let w = s.admitted(&locked, 1, t).await;
    s.settle(&locked, w, true, t).await;
    assert!(matches!(
        s.admit(&locked, 1, t).await,
        Admission::Refused { .. }
    ));
    for other in [
        FailureKey::Device(user, device),
        FailureKey::Ip("203.0.113.7".into()),
        FailureKey::Ip("2001:db8::{x}".into()),
        account("v"),
    ] {
        s.admitted(&other, 1, t).await;
    }
    let window = FAILURE_WINDOW.as_secs();
    let refused = s.admit(&locked, 1, at(t, window - 1)).await;
    assert!(matches!(refused, Admission::Refused { .. }));
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod on_memory {
            $( #[tokio::test] async fn $name() { super::$name(super::memory().await).await } )*
        }
        mod on_redis {
            $( #[tokio::test] async fn $name() { super::$name(super::redis().await).await } )*
        }
        /// Each counter is one key: the cluster run proves every call stays in one slot.
        mod on_redis_cluster {
            $( #[tokio::test] async fn $name() { super::$name(super::redis_cluster().await).await } )*
        }
    };
}

conformance!(
    refuses_after_the_limit_until_the_window_ends,
    checks_in_flight_make_others_wait_and_successes_count_nothing,
    a_check_of_the_window_before_counts_and_fails_into_the_new_one,
    a_check_never_settled_stops_counting_two_windows_later,
    counters_are_independent,
);
