//! Redis Sentinel failover under load: two instances on a Sentinel-managed
//! master, sockets open, revocations running through the other instance,
//! and the master is killed. Afterwards every revoked socket was kicked
//! (those revoked while an instance's subscription was down by the recheck
//! after it resubscribed, since the sweep is set far out), sign-ins came back
//! by themselves, `/readyz` went 503 and back, and a socket nobody revoked is
//! still open. Prints the time without service. Switchovers (the old master
//! lives on) are in `switchover.rs`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::*;
use crate::instances::{instances, names, PASSWORD};
use crate::redis_sentinel::SentinelGroup;

/// How long any one revocation may keep failing before the test gives up.
const REVOKE_DEADLINE: Duration = Duration::from_secs(30);

/// Samples of one instance: when, whether `/readyz` said 200, whether its
/// event subscription was up.
type Samples = Vec<(Instant, bool, bool)>;

async fn watch(addr: String, stop: Arc<AtomicBool>) -> Samples {
    let http = reqwest::Client::new();
    let mut samples = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let ready = http
            .get(format!("http://{addr}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        let metrics = match http.get(format!("http://{addr}/metrics")).send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        let subscribed = metrics
            .lines()
            .any(|l| l.trim() == "loginguard_events_subscribed 1");
        samples.push((Instant::now(), ready, subscribed));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    samples
}

/// Signs `accounts` in on `addr` one after another, every 50 ms, until
/// `stop`: when each try ended, and the token if it was granted.
pub async fn sign_in_loop(
    addr: String,
    mut accounts: impl Iterator<Item = String>,
    stop: Arc<AtomicBool>,
) -> Vec<(Instant, Option<String>)> {
    let app = TestApp::remote(&addr);
    let mut tries = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let account = accounts.next().expect("enough accounts");
        let r = app.login(&account, PASSWORD, "loop").await;
        tries.push((Instant::now(), (r.status == 200).then(|| r.token())));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tries
}

/// From the tries of `sign_in_loop`: how long after `killed` sign-ins first
/// failed, and for how long (until one was granted again). Panics when none
/// failed or none came back.
pub fn outage(tries: &[(Instant, Option<String>)], killed: Instant) -> (Duration, Duration) {
    let first_failure = tries
        .iter()
        .find(|(t, token)| *t >= killed && token.is_none())
        .map(|(t, _)| *t)
        .expect("sign-ins failed while there was no master");
    let back = tries
        .iter()
        .find(|(t, token)| *t > first_failure && token.is_some())
        .map(|(t, _)| *t)
        .expect("sign-ins came back by themselves");
    (first_failure - killed, back - first_failure)
}

/// Signs each token out through its address, retrying until the store
/// takes it (204, or 401 when a retried sign-out had already landed).
/// Returns when each was acknowledged.
async fn revoke_all(targets: Vec<(String, String)>, done: Arc<AtomicUsize>) -> Vec<Instant> {
    let http = reqwest::Client::new();
    let mut acked = Vec::new();
    for (addr, token) in targets {
        let deadline = Instant::now() + REVOKE_DEADLINE;
        loop {
            let status = http
                .post(format!("http://{addr}/api/auth/logout"))
                .bearer_auth(&token)
                .send()
                .await
                .map(|r| r.status().as_u16());
            if matches!(status, Ok(204 | 401)) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "a sign-out never went through: {status:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        acked.push(Instant::now());
        done.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    acked
}

/// The sample taken last before `at`.
fn state_at(samples: &Samples, at: Instant) -> Option<(bool, bool)> {
    samples
        .iter()
        .take_while(|(t, _, _)| *t <= at)
        .last()
        .map(|(_, ready, subscribed)| (*ready, *subscribed))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_failover_loses_no_kick_and_recovers_by_itself() {
    let mut group = SentinelGroup::start();
    let config = group.app_config();
    let dir = tempfile::tempdir().unwrap();
    let victims = names("v", 40);
    let mut users = victims.clone();
    users.extend(["probe".to_owned(), "steady".to_owned()]);
    let apps = instances(config, 2, &users, &dir).await;
    let (a, b) = (&apps[0], &apps[1]);

    // Victim i's socket is on A when i is even, on B when odd; its sign-out
    // goes through the other instance.
    let mut sockets = Vec::new();
    let mut targets = Vec::new();
    for (i, user) in victims.iter().enumerate() {
        let (home, other) = if i % 2 == 0 { (a, b) } else { (b, a) };
        let token = home.login(user, PASSWORD, "victim").await.token();
        sockets.push(home.ws_authed(&token).await);
        targets.push((other.addr.clone(), token));
    }
    let steady_token = a.login("steady", PASSWORD, "steady").await.token();
    let mut steady = a.ws_authed(&steady_token).await;

    let stop = Arc::new(AtomicBool::new(false));
    let watcher = tokio::spawn(watch(a.addr.clone(), stop.clone()));
    let probes = std::iter::repeat("probe".to_owned());
    let prober = tokio::spawn(sign_in_loop(a.addr.clone(), probes, stop.clone()));
    let done = Arc::new(AtomicUsize::new(0));
    let revoker = tokio::spawn(revoke_all(targets, done.clone()));

    eventually("the first revocations went through", || {
        let n = done.load(Ordering::Relaxed);
        async move { n >= 5 }
    })
    .await;
    let old_master = group.master_port();
    assert_eq!(old_master, Some(group.master.port));
    group.master.stop();
    let killed = Instant::now();

    let acked = revoker.await.expect("revocations");
    for (i, ws) in sockets.iter_mut().enumerate() {
        let kick = ws.next_event().await;
        assert_eq!(kick["type"], "force_logout", "victim {i}: {kick}");
        assert_eq!(kick["reason"], "logout", "victim {i}: {kick}");
        ws.expect_close_code(4001).await;
    }
    eventually("both instances ready again", || async {
        a.get("/readyz", None).await.status == 200 && b.get("/readyz", None).await.status == 200
    })
    .await;
    a.login("probe", PASSWORD, "after").await.token();
    steady.send_json(json!({"type": "ping"})).await;
    assert_eq!(
        steady.next_event().await["type"],
        "pong",
        "a failover signs no one out"
    );
    assert_eq!(
        group.master_port(),
        Some(group.replica.port),
        "the replica took over"
    );

    stop.store(true, Ordering::Relaxed);
    let samples = watcher.await.unwrap();
    let tries = prober.await.unwrap();
    let (failed_after, without_service) = outage(&tries, killed);
    let went_unready = samples.iter().any(|(t, ready, _)| *t >= killed && !ready);
    assert!(went_unready, "/readyz went 503 during the failover");
    assert!(
        samples.last().is_some_and(|(_, ready, _)| *ready),
        "/readyz is 200 again"
    );
    // Sockets on A (even i) revoked while A's subscription was down could
    // only be kicked by the recheck after A resubscribed.
    let caught_up = acked
        .iter()
        .enumerate()
        .filter(|(i, at)| i % 2 == 0 && state_at(&samples, **at).is_some_and(|(_, sub)| !sub))
        .count();
    println!(
        "sentinel failover (master SIGKILLed, down-after 1s): sign-ins failed for {:?} \
         (first failure {:?} after the kill); {} revocations, all {} sockets kicked, \
         {caught_up} of them on A while its subscription was down (caught up by the recheck), none lost",
        without_service,
        failed_after,
        acked.len(),
        sockets.len(),
    );
}
