//! Redis Sentinel switchovers (`SENTINEL FAILOVER`): the old master lives
//! on and keeps taking writes for about ten seconds, until Sentinel makes it
//! a replica (discarding them), and nothing breaks the connections to it.
//! Each instance must ask the Sentinels and move its writes and its event
//! subscription to the new master soon after they name it; nothing written
//! after that may be lost, and with writes paused first (the runbook's
//! planned switchover) nothing at all.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::failover::sign_in_loop;
use crate::helpers::*;
use crate::instances::{instances, names, PASSWORD};
use crate::redis_sentinel::SentinelGroup;

/// How many of `tokens` no longer work on `app`.
async fn lost(app: &TestApp, tokens: &[String]) -> usize {
    let mut n = 0;
    for token in tokens {
        if app.get("/api/auth/session", Some(token)).await.status != 200 {
            n += 1;
        }
    }
    n
}

/// What a switchover looked like from the test's side.
struct Switchover {
    /// From `SENTINEL FAILOVER` until the Sentinels named the new master.
    named: Duration,
    /// From then until both instances wrote to and listened on it.
    followed: Duration,
    /// Sign-ins granted before the instances followed, and how many of
    /// them were gone once the old master had become a replica.
    granted: usize,
    lost: usize,
}

/// `SENTINEL FAILOVER` (after `CLIENT PAUSE WRITE` on the master when
/// `pause_writes`): the old master lives on and keeps taking writes for
/// about ten seconds, until Sentinel makes it a replica (discarding them),
/// and nothing breaks the connections to it. Each instance must ask the
/// Sentinels and move its writes and its subscription to the new master
/// soon after they name it; nothing written after that may be lost.
async fn switchover(pause_writes: bool) -> Switchover {
    let group = SentinelGroup::start();
    let dir = tempfile::tempdir().unwrap();
    let apps = instances(group.app_config(), 2, &names("s", 400), &dir).await;
    let (a, b) = (&apps[0], &apps[1]);
    if pause_writes {
        let paused = group.master.cli(&["CLIENT", "PAUSE", "10000", "WRITE"]);
        assert_eq!(paused.as_deref().map(str::trim), Some("OK"));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let accounts = names("s", 300).into_iter();
    let signing = tokio::spawn(sign_in_loop(a.addr.clone(), accounts, stop.clone()));
    group.switch_over();
    let switched = Instant::now();
    let mut named = None;
    while group.subscribers(&group.replica) < 2 {
        assert!(
            switched.elapsed() < Duration::from_secs(20),
            "both subscriptions moved to the new master"
        );
        if named.is_none() && group.master_port() == Some(group.replica.port) {
            named = Some(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let moved = Instant::now();
    stop.store(true, Ordering::Relaxed);
    let during: Vec<String> = signing
        .await
        .expect("sign-ins")
        .into_iter()
        .filter_map(|(_, token)| token)
        .collect();
    let named = named.unwrap_or(moved);
    assert!(
        moved - named < Duration::from_secs(5),
        "the instances followed the Sentinels {:?} after they named the new master",
        moved - named
    );
    let mut after = Vec::new();
    for account in names("s", 400).iter().skip(300).take(5) {
        after.push(a.login(account, PASSWORD, "after").await.token());
    }

    let converted = Instant::now() + Duration::from_secs(30);
    while !group
        .master
        .cli(&["INFO", "replication"])
        .is_some_and(|i| i.contains("role:slave") && i.contains("master_link_status:up"))
    {
        assert!(
            Instant::now() < converted,
            "the old master became a replica"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(lost(b, &after).await, 0, "sign-ins after the move survive");

    let token = a.login("s399", PASSWORD, "PC1").await.token();
    let mut ws = a.ws_authed(&token).await;
    assert_eq!(b.logout(&token).await.status, 204);
    ws.expect_force_logout("logout").await;
    Switchover {
        named: named - switched,
        followed: moved - named,
        granted: during.len(),
        lost: lost(b, &during).await,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sentinel_switchover_moves_writes_and_the_subscription() {
    let s = switchover(false).await;
    println!(
        "sentinel switchover (SENTINEL FAILOVER): Sentinels named the new master {:?} after the command, \
         both instances followed {:?} later; of {} sign-ins granted before that, {} went to the old \
         master after the promotion and were lost when it became a replica",
        s.named, s.followed, s.granted, s.lost
    );
}

/// The runbook's planned switchover: writes paused on the master first, so
/// nothing the old master acknowledges after the promotion can be lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planned_switchover_with_writes_paused_loses_nothing() {
    let s = switchover(true).await;
    assert_eq!(s.lost, 0, "no granted sign-in was lost");
    println!(
        "planned sentinel switchover (CLIENT PAUSE WRITE, then SENTINEL FAILOVER): Sentinels named the new \
         master {:?} after the command, both instances followed {:?} later; {} sign-ins granted \
         meanwhile, none lost",
        s.named, s.followed, s.granted
    );
}
