//! `validate`, `verify` and `introspect`: one token check per request over
//! `--connections` keep-alive connections, each sending its next request when
//! the last answer is in (closed loop), with tokens of `--sessions` sessions.
//! The three differ only in the request (`Check`), so their rates compare
//! like for like. The closed loop itself also serves `prototype validate`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::setup::sign_in_all;
use crate::api;
use crate::cli::ValidateArgs;
use crate::http::HttpConn;
use crate::progress::Progress;
use crate::stats::{per_second, Latency, Summary};
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
#[derive(Clone, Debug)]
pub(crate) enum Check {
    /// loginguard's `GET /api/auth/session` with a bearer token.
    Token,
    /// loginguard's `GET /api/auth/verify` with a bearer token.
    Verify,
    /// loginguard's `POST /api/v1/introspect` with this API key.
    Introspect(Arc<str>),
    /// The Python prototype's session check by session id.
    PrototypeId,
}

impl Check {
    /// The scenario name reports carry.
    fn scenario(&self) -> &'static str {
        match self {
            Check::Token => "validate",
            Check::Verify => "verify",
            Check::Introspect(_) => "introspect",
            Check::PrototypeId => "prototype-validate",
        }
    }

    async fn send(&self, conn: &mut HttpConn, key: &str) -> Result<(), LoadgenError> {
        match self {
            Check::Token => api::validate(conn, key).await,
            Check::Verify => api::verify(conn, key).await,
            Check::Introspect(api_key) => api::introspect(conn, api_key, key).await,
            Check::PrototypeId => crate::prototype::client::check_session(conn, key).await,
        }
    }
}

/// Signs `--sessions` sessions in, then checks their tokens with `check`
/// (one of loginguard's own checks).
pub async fn run(a: &ValidateArgs, check: Check) -> Result<ValidateReport, LoadgenError> {
    let device = format!("loadgen-{}", check.scenario());
    let sessions = sign_in_all(&a.target.target, &a.accounts, 0, a.sessions, &device).await?;
    let tokens = sessions.into_iter().map(|s| s.token).collect();
    closed_loop(a, tokens, check).await
}

/// `--connections` keep-alive connections, each sending its next `check` of
/// one of `keys` when the last answer is in, until `--count` checks or
/// `--duration`. Shared by `validate` and `prototype validate`.
pub(crate) async fn closed_loop(
    a: &ValidateArgs,
    keys: Arc<[String]>,
    check: Check,
) -> Result<ValidateReport, LoadgenError> {
    let scenario = check.scenario();
    let progress = Progress::start(format!("{scenario}: requests"), a.count);
    let issued = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + a.duration;
    let mut workers = Vec::new();
    for _ in 0..a.connections {
        let (target, keys, issued, counters, check) = (
            a.target.target.clone(),
            keys.clone(),
            issued.clone(),
            progress.counters.clone(),
            check.clone(),
        );
        let count = a.count;
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
        scenario,
        target: a.target.target.to_string(),
        connections: a.connections,
        sessions: keys.len() as u64,
        ok: total.ok,
        errors: total.errors,
        per_s: per_second(total.ok, elapsed),
        elapsed_s: elapsed.as_secs_f64(),
        latency: total.latency.summary(),
        first_error: total.first_error,
    })
}
