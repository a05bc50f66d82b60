//! `prototype validate`: session checks per second, the prototype's twin of
//! `validate`. Closed loop over `--connections` keep-alive connections, with
//! the ids of `--sessions` sessions; only the path and sign-in differ.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::{check_accounts, client, sign_in_many, ProtoValidateArgs};
use crate::http::HttpConn;
use crate::progress::Progress;
use crate::stats::{per_second, Latency, Summary};
use crate::LoadgenError;

#[derive(Debug, Serialize)]
pub struct ProtoValidateReport {
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

pub async fn run(a: &ProtoValidateArgs) -> Result<ProtoValidateReport, LoadgenError> {
    let target = &a.target.target;
    check_accounts(a.sessions, &a.accounts)?;
    let ids: Arc<[String]> = sign_in_many(target, &a.accounts, 0, a.sessions)
        .await?
        .into();
    let progress = Progress::start("prototype validate: requests", a.count);
    let issued = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + a.duration;
    let mut workers = Vec::new();
    for _ in 0..a.connections {
        let (target, ids, issued, counters) = (
            target.clone(),
            ids.clone(),
            issued.clone(),
            progress.counters.clone(),
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
                let id = &ids[(n % ids.len() as u64) as usize];
                match client::check_session(&mut conn, id).await {
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
    Ok(ProtoValidateReport {
        scenario: "prototype-validate",
        target: target.to_string(),
        connections: a.connections,
        sessions: ids.len() as u64,
        ok: total.ok,
        errors: total.errors,
        per_s: per_second(total.ok, elapsed),
        elapsed_s: elapsed.as_secs_f64(),
        latency: total.latency.summary(),
        first_error: total.first_error,
    })
}
