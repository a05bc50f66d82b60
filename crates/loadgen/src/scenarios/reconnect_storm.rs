//! `reconnect-storm`: N authenticated sockets on one instance, that
//! instance stopped with SIGTERM (it closes every socket with 1012), and
//! every client coming back to another instance after the JS client's
//! backoff and jitter (`backoff.rs`), as browsers behind a load balancer
//! would. Reports when each socket was back, the curve of sockets back per
//! second, Redis's CPU during the storm, and sign-ins and validations sent
//! to the surviving instance meanwhile (none may fail).
//!
//! Time zero is the moment SIGTERM is sent. Sessions are signed in on the
//! surviving instance, so the storm re-authenticates existing sessions only.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{mpsc, watch, Semaphore};

use super::dial::Dial;
use super::setup::sign_in_all;
use crate::api;
use crate::background::{LoginLoad, LoginLoadReport, LoginLoadSpec};
use crate::backoff::Backoff;
use crate::cli::StormArgs;
use crate::http::HttpConn;
use crate::procfs::{cpu_seconds, open_file_limit};
use crate::progress::{Counters, Progress};
use crate::stats::{Latency, Summary};
use crate::target::{source_addr, Target};
use crate::ws;
use crate::LoadgenError;

/// Width of one step of the reported curve.
const CURVE_STEP: Duration = Duration::from_millis(250);
/// Sockets opening at the same time before the storm (the storm itself is not limited).
const OPEN_CONCURRENCY: usize = 256;
/// Descriptors the process needs besides the sockets.
const SPARE_FDS: u64 = 256;
/// Kinds of failed attempt counted apart; the rest are counted together, so
/// errors naming a port or an address cannot grow the report without bound.
const MAX_CAUSES: usize = 16;
const OTHER_CAUSES: &str = "(other causes)";

#[derive(Debug, Serialize)]
pub struct StormReport {
    pub scenario: &'static str,
    pub target: String,
    pub reconnect_to: String,
    pub sockets: u64,
    pub sessions: u64,
    pub opened: u64,
    /// Sockets the stopping instance closed with 1012 (others: any other end).
    pub closed_1012: u64,
    pub closed_other: u64,
    pub reconnected: u64,
    pub reconnected_within_window: u64,
    pub window_s: f64,
    /// Seconds from SIGTERM until the last socket was back, when all came back.
    pub all_back_s: Option<f64>,
    /// SIGTERM -> re-authenticated on the other instance, per socket.
    pub back_after: Summary,
    /// Reconnect attempts that failed (refused, timed out, auth error).
    pub failed_attempts: u64,
    /// Failed attempts by what failed them (the error, with the server's
    /// close code when it sent one), at most `MAX_CAUSES` kinds.
    pub failure_causes: BTreeMap<String, u64>,
    pub curve: Vec<CurvePoint>,
    /// Redis's CPU time over the storm divided by its wall time (1.0 = one core).
    pub redis_cpu_cores: Option<f64>,
    pub background_sign_ins: LoginLoadReport,
    pub validations: ValidateTally,
}

/// Sockets back in one step of the curve.
#[derive(Debug, Serialize)]
pub struct CurvePoint {
    /// End of the step, seconds after SIGTERM.
    pub t_s: f64,
    pub back_per_s: f64,
    pub back_total: u64,
}

/// Token validations sent to the surviving instance during the storm.
#[derive(Debug, Default, Serialize)]
pub struct ValidateTally {
    pub ok: u64,
    pub errors: u64,
    pub first_error: Option<String>,
}

/// What every socket task shares.
struct Spec {
    from: Target,
    to: Target,
    sources: u8,
    tokens: Vec<String>,
    backoff: Backoff,
    give_up: Duration,
}

/// A socket's storm, as its task reports it.
enum Storm {
    Back {
        at: Instant,
        code: Option<u16>,
        failures: Vec<String>,
    },
    GaveUp {
        code: Option<u16>,
        failures: Vec<String>,
    },
}

pub async fn run(a: &StormArgs) -> Result<StormReport, LoadgenError> {
    if let Some(limit) = open_file_limit() {
        if a.count + SPARE_FDS > limit {
            return Err(LoadgenError::Arg(format!(
                "{} sockets need {} open files but this process may open {limit}: raise `ulimit -n`",
                a.count,
                a.count + SPARE_FDS
            )));
        }
    }
    let sessions = a.sessions.min(a.count);
    let signed_in = sign_in_all(&a.reconnect_to, &a.accounts, 0, sessions, "loadgen-storm").await?;
    let spec = Arc::new(Spec {
        from: a.target.target.clone(),
        to: a.reconnect_to.clone(),
        sources: a.sources,
        tokens: signed_in.iter().map(|s| s.token.clone()).collect(),
        backoff: Backoff::default(),
        give_up: a.duration,
    });

    let (stop, stop_rx) = watch::channel(false);
    let (opened_tx, mut opened_rx) = mpsc::unbounded_channel();
    let (storm_tx, mut storm_rx) = mpsc::unbounded_channel();
    let permits = Arc::new(Semaphore::new(OPEN_CONCURRENCY));
    let tasks: Vec<_> = (0..a.count)
        .map(|i| {
            tokio::spawn(one_socket(
                spec.clone(),
                i,
                permits.clone(),
                opened_tx.clone(),
                storm_tx.clone(),
                stop_rx.clone(),
            ))
        })
        .collect();
    drop((opened_tx, storm_tx));

    let progress = Progress::start("reconnect-storm: opening sockets", a.count);
    let (mut opened, mut open_error) = (0, None);
    for _ in 0..a.count {
        match opened_rx.recv().await {
            Some(Ok(())) => {
                opened += 1;
                progress.counters.done();
            }
            Some(Err(e)) => {
                open_error.get_or_insert(e);
                progress.counters.error();
            }
            None => break,
        }
    }
    drop(progress);
    if opened < a.count {
        let _ = stop.send(true);
        return Err(LoadgenError::Arg(format!(
            "only {opened} of {} sockets opened before the storm: {}",
            a.count,
            open_error.unwrap_or_default()
        )));
    }

    let background = LoginLoad::start(
        LoginLoadSpec {
            target: a.reconnect_to.clone(),
            accounts: a.accounts.clone(),
            first_account: sessions,
            account_count: u64::from(a.accounts.accounts)
                .saturating_sub(sessions)
                .max(1),
            rate: Some(a.background_logins),
            concurrency: 8,
            max_count: u64::MAX,
        },
        Arc::new(Counters::default()),
    );
    let validations = tokio::spawn(validate_loop(
        a.reconnect_to.clone(),
        spec.tokens[0].clone(),
        stop_rx.clone(),
    ));
    let redis_before = a.redis_pid.map(cpu_seconds).transpose()?;

    terminate(a.terminate_pid)?;
    let killed = Instant::now();
    let progress = Progress::start("reconnect-storm: sockets back", opened);
    let mut report = Collected::default();
    let deadline = tokio::time::Instant::from_std(killed + a.duration);
    while report.settled() < opened {
        match tokio::time::timeout_at(deadline, storm_rx.recv()).await {
            Ok(Some(storm)) => {
                if matches!(storm, Storm::Back { .. }) {
                    progress.counters.done();
                } else {
                    progress.counters.error();
                }
                report.add(storm, killed);
            }
            Ok(None) | Err(_) => break,
        }
    }
    let storm_wall = killed.elapsed();
    let redis_cpu_cores = match (a.redis_pid, redis_before) {
        (Some(pid), Some(before)) => Some((cpu_seconds(pid)? - before) / storm_wall.as_secs_f64()),
        _ => None,
    };
    drop(progress);
    let background_sign_ins = background.stop().await;
    let _ = stop.send(true);
    let validations = validations
        .await
        .map_err(|e| LoadgenError::Worker(format!("validation task failed: {e}")))?;
    let _ = tokio::time::timeout(
        Duration::from_secs(30),
        futures_util::future::join_all(tasks),
    )
    .await;

    Ok(report.into_report(
        a,
        sessions,
        opened,
        redis_cpu_cores,
        background_sign_ins,
        validations,
    ))
}

/// One socket: open on `from`, wait for its close, come back to `to` after
/// the client's backoff (retrying with the next attempt's wait), hold until stopped.
async fn one_socket(
    spec: Arc<Spec>,
    i: u64,
    permits: Arc<Semaphore>,
    opened: mpsc::UnboundedSender<Result<(), String>>,
    storm: mpsc::UnboundedSender<Storm>,
    mut stop: watch::Receiver<bool>,
) {
    let key = &spec.tokens[(i % spec.tokens.len() as u64) as usize];
    let source = source_addr(&spec.from, spec.sources, i);
    let first = {
        let Ok(_permit) = permits.acquire().await else {
            return;
        };
        Dial::Token.open(&spec.from, source, key).await
    };
    let mut socket = match first {
        Ok(socket) => {
            let _ = opened.send(Ok(()));
            socket
        }
        Err(e) => {
            let _ = opened.send(Err(e.to_string()));
            return;
        }
    };
    let code = tokio::select! {
        code = ws::close_code(&mut socket) => code,
        _ = stop.wait_for(|s| *s) => return,
    };
    drop(socket);
    let closed = Instant::now();
    let mut random = fastrand::Rng::with_seed(i);
    let mut failures = Vec::new();
    for attempt in 0.. {
        tokio::time::sleep(spec.backoff.delay(attempt, random.f64())).await;
        if closed.elapsed() >= spec.give_up || *stop.borrow() {
            break;
        }
        match Dial::Token.open(&spec.to, source, key).await {
            Ok(mut back) => {
                let _ = storm.send(Storm::Back {
                    at: Instant::now(),
                    code,
                    failures,
                });
                tokio::select! {
                    _ = ws::close_code(&mut back) => {}
                    _ = stop.wait_for(|s| *s) => {}
                }
                return;
            }
            Err(e) => failures.push(e.to_string()),
        }
    }
    let _ = storm.send(Storm::GaveUp { code, failures });
}

/// Validates `token` on `target` one request after another until stopped.
async fn validate_loop(
    target: Target,
    token: String,
    mut stop: watch::Receiver<bool>,
) -> ValidateTally {
    let mut tally = ValidateTally::default();
    let mut conn = None;
    while !*stop.borrow() {
        let result = async {
            if conn.is_none() {
                conn = Some(HttpConn::connect(&target).await?);
            }
            api::validate(conn.as_mut().expect("connected above"), &token).await
        };
        let result = tokio::select! {
            r = result => r,
            _ = stop.wait_for(|s| *s) => break,
        };
        match result {
            Ok(()) => tally.ok += 1,
            Err(e) => {
                tally.errors += 1;
                tally.first_error.get_or_insert(e.to_string());
                conn = None;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    tally
}

/// Sends SIGTERM to `pid`.
fn terminate(pid: u32) -> Result<(), LoadgenError> {
    let pid = libc::pid_t::try_from(pid)
        .map_err(|_| LoadgenError::Arg(format!("--terminate-pid {pid} is out of range")))?;
    // SAFETY: kill has no memory-safety preconditions.
    if unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
        return Err(LoadgenError::Arg(format!(
            "cannot send SIGTERM to {pid}: {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}

/// The storm's outcomes as they come in.
#[derive(Default)]
struct Collected {
    back_us: Vec<u64>,
    gave_up: u64,
    closed_1012: u64,
    closed_other: u64,
    failed_attempts: u64,
    failure_causes: BTreeMap<String, u64>,
}

impl Collected {
    fn settled(&self) -> u64 {
        self.back_us.len() as u64 + self.gave_up
    }

    fn add(&mut self, storm: Storm, killed: Instant) {
        let (code, failures) = match storm {
            Storm::Back { at, code, failures } => {
                self.back_us
                    .push(at.saturating_duration_since(killed).as_micros() as u64);
                (code, failures)
            }
            Storm::GaveUp { code, failures } => {
                self.gave_up += 1;
                (code, failures)
            }
        };
        if code == Some(1012) {
            self.closed_1012 += 1;
        } else {
            self.closed_other += 1;
        }
        self.failed_attempts += failures.len() as u64;
        for cause in failures {
            let known =
                self.failure_causes.len() < MAX_CAUSES || self.failure_causes.contains_key(&cause);
            let key = if known {
                cause
            } else {
                OTHER_CAUSES.to_owned()
            };
            *self.failure_causes.entry(key).or_default() += 1;
        }
    }

    fn into_report(
        mut self,
        a: &StormArgs,
        sessions: u64,
        opened: u64,
        redis_cpu_cores: Option<f64>,
        background_sign_ins: LoginLoadReport,
        validations: ValidateTally,
    ) -> StormReport {
        self.back_us.sort_unstable();
        let mut back_after = Latency::new();
        for &us in &self.back_us {
            back_after.record_us(us);
        }
        let window_us = a.window.as_micros() as u64;
        let reconnected = self.back_us.len() as u64;
        StormReport {
            scenario: "reconnect-storm",
            target: a.target.target.to_string(),
            reconnect_to: a.reconnect_to.to_string(),
            sockets: a.count,
            sessions,
            opened,
            closed_1012: self.closed_1012,
            closed_other: self.closed_other,
            reconnected,
            reconnected_within_window: self.back_us.iter().filter(|&&us| us <= window_us).count()
                as u64,
            window_s: a.window.as_secs_f64(),
            all_back_s: (reconnected == opened)
                .then(|| self.back_us.last().map_or(0.0, |&us| us as f64 / 1e6)),
            back_after: back_after.summary(),
            failed_attempts: self.failed_attempts,
            failure_causes: self.failure_causes,
            curve: curve(&self.back_us, CURVE_STEP),
            redis_cpu_cores,
            background_sign_ins,
            validations,
        }
    }
}

/// Sockets back per step of `step`, from the sorted arrival times (µs after SIGTERM).
fn curve(sorted_us: &[u64], step: Duration) -> Vec<CurvePoint> {
    let step_us = step.as_micros() as u64;
    let Some(&last) = sorted_us.last() else {
        return Vec::new();
    };
    let mut before = 0;
    (1..=last / step_us + 1)
        .map(|k| {
            let end = k * step_us;
            let total = sorted_us.partition_point(|&us| us < end) as u64;
            let new = total - before;
            before = total;
            CurvePoint {
                t_s: end as f64 / 1e6,
                back_per_s: new as f64 / step.as_secs_f64(),
                back_total: total,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_curve_counts_arrivals_per_step() {
        let points = curve(&[100_000, 200_000, 300_000, 900_000], CURVE_STEP);
        let totals: Vec<u64> = points.iter().map(|p| p.back_total).collect();
        assert_eq!(totals, vec![2, 3, 3, 4]);
        assert_eq!(points[0].back_per_s, 8.0);
        assert_eq!(points[3].t_s, 1.0);
        assert!(curve(&[], CURVE_STEP).is_empty());
    }

    #[test]
    fn failed_attempts_are_counted_by_cause_with_a_bounded_number_of_kinds() {
        let mut collected = Collected::default();
        let killed = Instant::now();
        let refused = "closed before auth_ok: close code 1013".to_owned();
        collected.add(
            Storm::Back {
                at: killed,
                code: Some(1012),
                failures: vec![refused.clone(), refused.clone()],
            },
            killed,
        );
        let many = (0..MAX_CAUSES + 3)
            .map(|i| format!("port {i} busy"))
            .collect();
        collected.add(
            Storm::GaveUp {
                code: None,
                failures: many,
            },
            killed,
        );
        collected.add(
            Storm::GaveUp {
                code: Some(1012),
                failures: vec![refused.clone()],
            },
            killed,
        );
        assert_eq!(collected.failed_attempts, 2 + MAX_CAUSES as u64 + 3 + 1);
        assert_eq!(collected.failure_causes[&refused], 3);
        assert_eq!(collected.failure_causes.len(), MAX_CAUSES + 1);
        assert_eq!(collected.failure_causes[OTHER_CAUSES], 4);
        assert_eq!((collected.closed_1012, collected.closed_other), (2, 1));
        assert_eq!((collected.back_us.len(), collected.gave_up), (1, 2));
    }
}
