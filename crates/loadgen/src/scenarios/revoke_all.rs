//! `revoke-all`: sign everyone out (`DELETE /api/admin/sessions?confirm=all`)
//! with `--sessions` live sessions, `--connected` of them with a socket open
//! (spread over `--target` and `--second`), and measure how long the 200
//! takes, how long until every socket read its `force_logout`, and how long
//! Redis was ever stalled meanwhile.
//!
//! Sessions are made through the trusted-backend API (`backend_calls`), one
//! subject each, so 100,000 take seconds and no argon2. The sockets are the
//! idle machinery's (`idle_sockets`), which keeps each `force_logout` read.
//! The stall is measured from outside: PING timed every millisecond on its
//! own connection from just before the DELETE until the last socket was
//! told (loadgen's own scheduling is in it, so it is an upper bound), and
//! Redis's SLOWLOG entries added meanwhile (every command slower than its
//! `slowlog-log-slower-than`, 10 ms by default). Writes go through
//! loginguard only.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::Method;
use redis::aio::MultiplexedConnection;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::backend_calls::{create_session, drive, Calls, Errors};
use super::dial::Dial;
use super::idle_sockets::{open_and_hold, Held, OpenJob};
use super::redis_work::{RedisCounters, RedisWork};
use crate::api;
use crate::cli::RevokeAllArgs;
use crate::http::HttpConn;
use crate::procfs::open_file_limit;
use crate::progress::Progress;
use crate::stats::{Latency, Summary};
use crate::target::Target;
use crate::ws::Kick;
use crate::LoadgenError;

/// Descriptors the process needs besides the sockets.
const SPARE_FDS: u64 = 256;
/// How often PING is sent to Redis during the DELETE.
const PING_EVERY: Duration = Duration::from_millis(1);
/// SLOWLOG entries read after the run (Redis keeps 128 by default).
const SLOWLOG_READ: usize = 128;
const REASON: &str = "revoked_by_admin";

#[derive(Debug, Serialize)]
pub struct RevokeAllReport {
    pub scenario: &'static str,
    pub target: String,
    pub second: Option<String>,
    pub sessions: u64,
    pub created: u64,
    pub create_errors: u64,
    pub first_error: Option<String>,
    /// Sockets open when the DELETE was sent.
    pub connected: u64,
    /// The 200's `revoked`.
    pub revoked: u64,
    /// DELETE sent -> its 200 read.
    pub response_ms: f64,
    #[serde(flatten)]
    pub told: Told,
    pub redis: Option<RedisStall>,
}

/// What the connected sockets read.
#[derive(Debug, Default, PartialEq, Serialize)]
pub struct Told {
    /// DELETE sent -> `force_logout` (`revoked_by_admin`) read, per socket.
    pub kick_delay: Summary,
    /// DELETE sent -> the last socket told, when every one was.
    pub all_told_ms: Option<f64>,
    /// Sockets that read `force_logout` with `revoked_by_admin`.
    pub delivered: u64,
    /// Sockets that read no `force_logout` within `--kick-timeout` of the 200.
    pub missed: u64,
    /// Sockets told another reason.
    pub wrong_reason: u64,
    /// Sockets told but not closed with 4001 after it.
    pub not_closed_4001: u64,
}

/// How long Redis was stalled while everyone was signed out.
#[derive(Debug, Serialize)]
pub struct RedisStall {
    /// PING round trips during the run; `max_us` bounds the longest stall.
    pub ping: Summary,
    /// SLOWLOG entries added during the run (each a command slower than the threshold).
    pub slow_commands: u64,
    /// The longest of them, µs.
    pub slowest_us: Option<u64>,
    /// `slowlog-log-slower-than` (µs), when Redis lets it be read.
    pub slowlog_threshold_us: Option<i64>,
    /// Redis's own CPU time and commands over the same stretch (the PINGs too).
    pub work: RedisWork,
}

pub async fn run(a: &RevokeAllArgs) -> Result<RevokeAllReport, LoadgenError> {
    let connected = a.connected.min(a.sessions);
    if let Some(limit) = open_file_limit() {
        if connected + SPARE_FDS > limit {
            return Err(LoadgenError::Arg(format!(
                "--connected {connected} needs {} open files but this process may open {limit}: raise `ulimit -n`",
                connected + SPARE_FDS
            )));
        }
    }
    let redis = match &a.redis {
        Some(url) => Some(
            redis::Client::open(url.as_str())
                .map_err(|e| LoadgenError::Arg(format!("--redis {url}: {e}")))?
                .get_multiplexed_async_connection()
                .await?,
        ),
        None => None,
    };
    let errors = Arc::new(Errors::default());
    let (created, tokens) = create_sessions(a, connected, errors.clone()).await?;
    let mut admin = HttpConn::connect(&a.target.target).await?;
    let admin_token = api::login(
        &mut admin,
        &a.admin_user,
        &a.admin_password,
        "loadgen-admin",
    )
    .await?
    .token;
    let held = open_sockets(a, tokens).await?;
    let opened = held.iter().map(|(_, n)| n).sum::<u64>();

    let sampler = match redis.clone() {
        Some(conn) => Some(PingSampler::start(conn).await?),
        None => None,
    };
    eprintln!("loadgen: revoke-all: DELETE /api/admin/sessions?confirm=all ({created} sessions, {opened} sockets)");
    let sent = Instant::now();
    let reply = admin
        .send(
            Method::DELETE,
            "/api/admin/sessions?confirm=all",
            Some(&admin_token),
            None,
        )
        .await?
        .expect("sign everyone out", 200)?;
    let response = sent.elapsed();
    let revoked = serde_json::from_slice::<RevokedCount>(&reply.body)?.revoked;
    eprintln!(
        "loadgen: revoke-all: 200 after {:.0} ms, revoked {revoked}; waiting for the sockets",
        response.as_secs_f64() * 1000.0
    );
    wait_for_kicks(&held, opened, a.kick_timeout).await;
    let ping = match sampler {
        Some(s) => Some(s.stop().await),
        None => None,
    };
    let mut kicks = Vec::new();
    for (h, _) in &held {
        kicks.extend(h.kicks());
    }
    for (h, _) in held {
        h.close().await;
    }
    let redis = match (redis, ping) {
        (Some(mut conn), Some(ping)) => Some(stall(&mut conn, ping).await?),
        _ => None,
    };
    Ok(RevokeAllReport {
        scenario: "revoke-all",
        target: a.target.target.to_string(),
        second: a.second.as_ref().map(Target::to_string),
        sessions: a.sessions,
        created,
        create_errors: errors.count.load(std::sync::atomic::Ordering::Relaxed),
        first_error: errors.first(),
        connected: opened,
        revoked,
        response_ms: response.as_secs_f64() * 1000.0,
        told: tally(sent, opened, &kicks),
        redis,
    })
}

#[derive(Deserialize)]
struct RevokedCount {
    revoked: u64,
}

/// The subject of session `i`: one account each.
fn subject(i: u64) -> String {
    format!("ra{i}")
}

/// Creates every session; returns how many were made and the tokens of the
/// first `connected` (those that were made).
async fn create_sessions(
    a: &RevokeAllArgs,
    connected: u64,
    errors: Arc<Errors>,
) -> Result<(u64, Vec<String>), LoadgenError> {
    let kept: Arc<Mutex<Vec<Option<String>>>> =
        Arc::new(Mutex::new(vec![None; connected as usize]));
    let keep = kept.clone();
    let calls = Calls {
        target: &a.target.target,
        api_key: &a.api_key,
        count: a.sessions,
        concurrency: a.concurrency,
        duration: a.duration,
        label: "revoke-all: creating sessions".to_owned(),
    };
    let created = drive(
        calls,
        errors,
        |i| create_session(&subject(i), "loadgen revoke-all"),
        move |i, reply| {
            if i < connected {
                let token = serde_json::from_slice::<api::Session>(&reply.body)
                    .ok()
                    .map(|s| s.token);
                keep.lock().expect("not poisoned")[i as usize] = token;
            }
        },
    )
    .await?;
    let tokens = std::mem::take(&mut *kept.lock().expect("not poisoned"));
    Ok((created, tokens.into_iter().flatten().collect()))
}

/// Opens one socket per token, every other one on `--second` when given;
/// each holder with how many it opened.
async fn open_sockets(
    a: &RevokeAllArgs,
    tokens: Vec<String>,
) -> Result<Vec<(Held, u64)>, LoadgenError> {
    let targets: Vec<&Target> = std::iter::once(&a.target.target)
        .chain(a.second.as_ref())
        .collect();
    let mut held = Vec::new();
    for (n, target) in targets.iter().enumerate() {
        let keys: Vec<String> = tokens
            .iter()
            .skip(n)
            .step_by(targets.len())
            .cloned()
            .collect();
        if keys.is_empty() {
            continue;
        }
        let job = OpenJob {
            target: target.to_string(),
            first_index: 0,
            count: keys.len() as u64,
            sources: a.sources,
            dial: Dial::Token,
            keys,
            concurrency: 256,
            open_timeout_ms: a.duration.as_millis() as u64,
        };
        let progress = Progress::start(format!("revoke-all: sockets on {target}"), job.count);
        let (opened, h) = open_and_hold(&job, progress.counters.clone()).await?;
        drop(progress);
        if opened.opened < job.count {
            h.close().await;
            return Err(LoadgenError::Arg(format!(
                "only {} of {} sockets opened on {target}: {}",
                opened.opened,
                job.count,
                opened.first_error.as_deref().unwrap_or("no error reported")
            )));
        }
        held.push((h, opened.opened));
    }
    Ok(held)
}

/// Waits until `expected` sockets were told, or `timeout` passes.
async fn wait_for_kicks(held: &[(Held, u64)], expected: u64, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let progress = Progress::start("revoke-all: sockets told", expected);
    let mut shown = 0;
    loop {
        let told = held.iter().map(|(h, _)| h.kicked() as u64).sum::<u64>();
        for _ in shown..told {
            progress.counters.done();
        }
        shown = told;
        if told >= expected || Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The sockets' kicks, measured from `sent`, against the `expected` sockets.
fn tally(sent: Instant, expected: u64, kicks: &[Kick]) -> Told {
    let mut delay = Latency::new();
    let mut told = Told::default();
    for kick in kicks {
        if kick.reason != REASON {
            told.wrong_reason += 1;
            continue;
        }
        told.delivered += 1;
        delay.record(kick.at.saturating_duration_since(sent));
        if kick.close_code != Some(4001) {
            told.not_closed_4001 += 1;
        }
    }
    told.missed = expected.saturating_sub(kicks.len() as u64);
    told.kick_delay = delay.summary();
    if told.delivered == expected {
        told.all_told_ms = kicks
            .iter()
            .map(|k| k.at.saturating_duration_since(sent))
            .max()
            .map(|d| d.as_secs_f64() * 1000.0);
    }
    told
}

/// PING round trips timed on their own connection until stopped.
struct PingSampler {
    stop: watch::Sender<()>,
    /// The PINGs, and Redis's counters read as soon as they stop (before the
    /// sockets close, whose upkeep is not the run's work).
    task: tokio::task::JoinHandle<Result<(Latency, RedisCounters), LoadgenError>>,
    /// The newest SLOWLOG entry's id before the run.
    slowlog_before: Option<u64>,
    counters_before: RedisCounters,
}

impl PingSampler {
    async fn start(mut conn: MultiplexedConnection) -> Result<PingSampler, LoadgenError> {
        let slowlog_before = slowlog(&mut conn, 1).await?.first().map(|e| e.0);
        let counters_before = RedisCounters::read(&mut conn).await?;
        let (stop, mut stopped) = watch::channel(());
        let task = tokio::spawn(async move {
            let mut pings = Latency::new();
            let mut tick = tokio::time::interval(PING_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                // Stopped, or the sampler dropped on an error path.
                tokio::select! {
                    _ = stopped.changed() => break,
                    _ = tick.tick() => {}
                }
                let started = Instant::now();
                let _: String = redis::cmd("PING").query_async(&mut conn).await?;
                pings.record(started.elapsed());
            }
            Ok((pings, RedisCounters::read(&mut conn).await?))
        });
        Ok(PingSampler {
            stop,
            task,
            slowlog_before,
            counters_before,
        })
    }

    async fn stop(self) -> Sampled {
        let _ = self.stop.send(());
        let sampled = self
            .task
            .await
            .map_err(|e| LoadgenError::Worker(format!("PING sampler failed: {e}")))
            .and_then(|r| r)
            .map(|(pings, after)| (pings, self.counters_before.work_until(&after)));
        (sampled, self.slowlog_before)
    }
}

/// The PINGs and Redis's work during the run, and the newest SLOWLOG id before it.
type Sampled = (Result<(Latency, RedisWork), LoadgenError>, Option<u64>);

/// One SLOWLOG entry: id, time, duration (µs), the command's words, client, name.
type SlowEntry = (u64, u64, u64, Vec<String>, String, String);

async fn slowlog(
    conn: &mut MultiplexedConnection,
    count: usize,
) -> Result<Vec<SlowEntry>, LoadgenError> {
    Ok(redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(count)
        .query_async(conn)
        .await?)
}

/// The stall figures: the PING samples, Redis's work and the SLOWLOG
/// entries after `before`.
async fn stall(
    conn: &mut MultiplexedConnection,
    (sampled, before): Sampled,
) -> Result<RedisStall, LoadgenError> {
    let (pings, work) = sampled?;
    let entries = slowlog(conn, SLOWLOG_READ).await?;
    let (slow_commands, slowest_us) = slow_since(&entries, before);
    // CONFIG may be refused by an ACL; the threshold is then unknown.
    let threshold: Option<(String, String)> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("slowlog-log-slower-than")
        .query_async(conn)
        .await
        .ok();
    Ok(RedisStall {
        ping: pings.summary(),
        slow_commands,
        slowest_us,
        slowlog_threshold_us: threshold.and_then(|(_, v)| v.parse().ok()),
        work,
    })
}

/// How many entries are newer than `before` and the longest of them.
fn slow_since(entries: &[SlowEntry], before: Option<u64>) -> (u64, Option<u64>) {
    let new: Vec<&SlowEntry> = entries
        .iter()
        .filter(|e| before.is_none_or(|b| e.0 > b))
        .collect();
    (new.len() as u64, new.iter().map(|e| e.2).max())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kick(sent: Instant, ms: u64, reason: &str, code: Option<u16>) -> Kick {
        Kick {
            at: sent + Duration::from_millis(ms),
            reason: reason.to_owned(),
            close_code: code,
        }
    }

    #[test]
    fn every_socket_told_gives_the_last_ones_delay() {
        let sent = Instant::now();
        let kicks = [
            kick(sent, 5, REASON, Some(4001)),
            kick(sent, 40, REASON, Some(4001)),
            kick(sent, 12, REASON, None),
        ];
        let told = tally(sent, 3, &kicks);
        assert_eq!((told.delivered, told.missed, told.wrong_reason), (3, 0, 0));
        assert_eq!(told.not_closed_4001, 1);
        assert_eq!(told.kick_delay.count, 3);
        assert!((39.9..40.1).contains(&told.all_told_ms.unwrap()));
        assert!(told.kick_delay.max_us >= 39_900, "{:?}", told.kick_delay);
    }

    #[test]
    fn missing_and_wrong_kicks_are_counted_and_leave_no_total() {
        let sent = Instant::now();
        let kicks = [
            kick(sent, 5, REASON, Some(4001)),
            kick(sent, 6, "duplicate_login", Some(4001)),
        ];
        let told = tally(sent, 4, &kicks);
        assert_eq!((told.delivered, told.missed, told.wrong_reason), (1, 2, 1));
        assert_eq!(told.all_told_ms, None);
    }

    #[test]
    fn only_slowlog_entries_of_the_run_count() {
        let entry = |id, us| {
            (
                id,
                0,
                us,
                vec!["EVALSHA".to_owned()],
                String::new(),
                String::new(),
            )
        };
        let entries = [entry(9, 12_000), entry(8, 30_000), entry(7, 50_000)];
        assert_eq!(slow_since(&entries, Some(7)), (2, Some(30_000)));
        assert_eq!(slow_since(&entries, None), (3, Some(50_000)));
        assert_eq!(slow_since(&entries, Some(9)), (0, None));
    }
}
