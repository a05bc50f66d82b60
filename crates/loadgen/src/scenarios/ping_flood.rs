//! `ping-under-login-flood`: WebSocket `ping` -> `pong` round trips from
//! `--sockets` sockets while `--flood-concurrency` connections sign in as fast
//! as the server lets them (argon2 saturated). `--flood-concurrency 0` gives
//! the baseline without a flood.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::dial::Dial;
use super::setup::sign_in_all;
use crate::background::{LoginLoad, LoginLoadReport, LoginLoadSpec};
use crate::cli::PingFloodArgs;
use crate::progress::{Counters, Progress};
use crate::stats::{Latency, Summary};
use crate::{ws, LoadgenError};

/// A pong later than this counts as lost.
const PONG_TIMEOUT: Duration = Duration::from_secs(2);

/// How long the flood may take to get going before pings start.
const FLOOD_WARMUP: Duration = Duration::from_secs(2);

#[derive(Debug, Serialize)]
pub struct PingFloodReport {
    pub scenario: &'static str,
    pub target: String,
    pub sockets: u64,
    pub interval_ms: f64,
    pub pings: Summary,
    pub lost: u64,
    pub elapsed_s: f64,
    pub flood: Option<LoginLoadReport>,
}

pub async fn run(a: &PingFloodArgs) -> Result<PingFloodReport, LoadgenError> {
    let target = &a.target.target;
    let accounts = u64::from(a.accounts.accounts);
    if a.flood_concurrency > 0 && accounts <= a.sockets {
        return Err(LoadgenError::Arg(format!(
            "the flood needs accounts beyond the {} pinging sessions: raise --accounts",
            a.sockets
        )));
    }
    let sessions = sign_in_all(target, &a.accounts, 0, a.sockets, "loadgen-ping").await?;
    let mut sockets = Vec::with_capacity(sessions.len());
    for s in &sessions {
        sockets.push(Dial::Token.open(target, None, &s.token).await?);
    }
    let flood = (a.flood_concurrency > 0).then(|| {
        LoginLoad::start(
            LoginLoadSpec {
                target: target.clone(),
                accounts: a.accounts.clone(),
                first_account: a.sockets,
                account_count: accounts - a.sockets,
                rate: None,
                concurrency: a.flood_concurrency as usize,
                max_count: u64::MAX,
            },
            Arc::new(Counters::default()),
        )
    });
    if flood.is_some() {
        tokio::time::sleep(FLOOD_WARMUP).await;
    }

    let progress = Progress::start("ping: round trips", a.count);
    let issued = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + a.duration;
    let mut tasks = Vec::new();
    for mut socket in sockets {
        let (issued, counters, count, interval) = (
            issued.clone(),
            progress.counters.clone(),
            a.count,
            a.interval,
        );
        tasks.push(tokio::spawn(async move {
            let (mut hist, mut lost) = (Latency::new(), 0u64);
            while issued.fetch_add(1, Ordering::Relaxed) < count && Instant::now() < deadline {
                match tokio::time::timeout(PONG_TIMEOUT, ws::ping(&mut socket)).await {
                    Ok(Ok(rtt)) => {
                        hist.record(rtt);
                        counters.done();
                    }
                    _ => {
                        lost += 1;
                        counters.error();
                        break;
                    }
                }
                tokio::time::sleep(interval).await;
            }
            (hist, lost)
        }));
    }
    let (mut pings, mut lost) = (Latency::new(), 0);
    for t in tasks {
        let (h, l) = t
            .await
            .map_err(|e| LoadgenError::Worker(format!("ping task failed: {e}")))?;
        pings.add(&h);
        lost += l;
    }
    let elapsed = started.elapsed();
    drop(progress);
    let flood = match flood {
        Some(f) => Some(f.stop().await),
        None => None,
    };
    Ok(PingFloodReport {
        scenario: "ping-under-login-flood",
        target: target.to_string(),
        sockets: a.sockets,
        interval_ms: a.interval.as_secs_f64() * 1000.0,
        pings: pings.summary(),
        lost,
        elapsed_s: elapsed.as_secs_f64(),
        flood,
    })
}
