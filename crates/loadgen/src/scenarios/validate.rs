//! `validate`: `GET /api/auth/session` per second over `--connections`
//! keep-alive connections, each sending its next request when the last
//! answer is in (closed loop), with tokens of `--sessions` sessions. The
//! closed loop itself also serves `prototype validate`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::setup::sign_in_all;
use crate::api;
use crate::cli::ValidateArgs;
use crate::http::HttpConn;
use crate::progress::Progress;
use crate::stats::{per_second, Latency, Summary};
use crate::target::Target;
use crate::LoadgenError;

#[derive(Debug, Serialize)]
pub struct ValidateReport {
    pub scenario: &'static str,
    pub target: String,
    pub connections: u64,
    pub sessions: u64,
    pub ok: u64,
    pub errors: u64,
    pub per_s: f64,
    pub elapsed_s: f64,
    pub latency: Summary,
    pub first_error: Option<String>,
}

/// What one connection did.
#[derive(Default)]
struct Share {
    latency: Latency,
    ok: u64,
    errors: u64,
    first_error: Option<String>,
}

/// Which session check the closed loop sends for each key.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Check {
    /// loginguard's `GET /api/auth/session` with a bearer token.
    Token,
    /// The Python prototype's session check by session id.
    PrototypeId,
}

impl Check {
    async fn send(self, conn: &mut HttpConn, key: &str) -> Result<(), LoadgenError> {
        match self {
            Check::Token => api::validate(conn, key).await,
            Check::PrototypeId => crate::prototype::client::check_session(conn, key).await,
        }
    }
}

/// One closed-loop run, shared by `validate` and `prototype validate`.
pub(crate) struct ClosedLoop<'a> {
    pub scenario: &'static str,
    pub target: &'a Target,
    pub keys: Arc<[String]>,
    pub check: Check,
    pub connections: u64,
    pub count: u64,
    pub duration: Duration,
}

pub async fn run(a: &ValidateArgs) -> Result<ValidateReport, LoadgenError> {
    let target = &a.target.target;
    let sessions = sign_in_all(target, &a.accounts, 0, a.sessions, "loadgen-validate").await?;
    ClosedLoop {
        scenario: "validate",
        target,
        keys: sessions.into_iter().map(|s| s.token).collect(),
        check: Check::Token,
        connections: a.connections,
        count: a.count,
        duration: a.duration,
    }
    .run()
    .await
}

impl ClosedLoop<'_> {
    /// `connections` keep-alive connections, each sending its next check when
    /// the last answer is in, until `count` checks or `duration`.
    pub(crate) async fn run(self) -> Result<ValidateReport, LoadgenError> {
        let progress = Progress::start(format!("{}: requests", self.scenario), self.count);
        let issued = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let deadline = started + self.duration;
        let mut workers = Vec::new();
        for _ in 0..self.connections {
            let (target, keys, issued, counters) = (
                self.target.clone(),
                self.keys.clone(),
                issued.clone(),
                progress.counters.clone(),
            );
            let (count, check) = (self.count, self.check);
            workers.push(tokio::spawn(async move {
                let mut share = Share::default();
                let mut conn = HttpConn::connect(&target).await?;
                loop {
                    let n = issued.fetch_add(1, Ordering::Relaxed);
                    let now = Instant::now();
                    if n >= count || now >= deadline {
                        return Ok::<_, LoadgenError>(share);
                    }
                    let key = &keys[(n % keys.len() as u64) as usize];
                    match check.send(&mut conn, key).await {
                        Ok(()) => {
                            share.latency.record(now.elapsed());
                            share.ok += 1;
                            counters.done();
                        }
                        Err(e) => {
                            share.errors += 1;
                            share.first_error.get_or_insert(e.to_string());
                            counters.error();
                            conn = HttpConn::connect(&target).await?;
                        }
                    }
                }
            }));
        }
        let mut total = Share::default();
        for w in workers {
            let share = w
                .await
                .map_err(|e| LoadgenError::Worker(format!("validate task failed: {e}")))??;
            total.latency.add(&share.latency);
            total.ok += share.ok;
            total.errors += share.errors;
            if total.first_error.is_none() {
                total.first_error = share.first_error;
            }
        }
        let elapsed = started.elapsed();
        drop(progress);
        Ok(ValidateReport {
            scenario: self.scenario,
            target: self.target.to_string(),
            connections: self.connections,
            sessions: self.keys.len() as u64,
            ok: total.ok,
            errors: total.errors,
            per_s: per_second(total.ok, elapsed),
            elapsed_s: elapsed.as_secs_f64(),
            latency: total.latency.summary(),
            first_error: total.first_error,
        })
    }
}
