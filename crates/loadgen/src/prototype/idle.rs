//! `prototype idle`: N idle WebSockets on the prototype, one session each
//! (its dict keeps one socket per session), and the server's RSS per socket.
//!
//! Sessions are signed in before the first RSS sample, so only the sockets are
//! billed. One process, one task per socket: counts stay within one client's
//! file limit (a few thousand), unlike loginguard's multi-process `idle`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{mpsc, watch, Semaphore};

use super::{check_accounts, client, sign_in_many, ProtoIdleArgs};
use crate::procfs::vm_rss_bytes;
use crate::progress::Progress;
use crate::stats::{per_second, Latency, Summary};
use crate::{ws, LoadgenError};

/// How long closing the held sockets may take.
const CLOSE_GRACE: Duration = Duration::from_secs(30);

#[derive(Debug, Serialize)]
pub struct ProtoIdleReport {
    pub scenario: &'static str,
    pub target: String,
    pub requested: u64,
    pub opened: u64,
    pub failed: u64,
    /// Sockets the server closed during the hold.
    pub dropped: u64,
    pub open_s: f64,
    pub opened_per_s: f64,
    /// Connect + upgrade + first ping/pong, per socket.
    pub connect: Summary,
    pub server_rss: Option<ProtoRss>,
    pub first_error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ProtoRss {
    pub pid: u32,
    pub before_bytes: u64,
    pub after_bytes: u64,
    pub per_socket_bytes: u64,
    pub per_socket_kib: f64,
}

pub async fn run(a: &ProtoIdleArgs) -> Result<ProtoIdleReport, LoadgenError> {
    let target = &a.target.target;
    check_accounts(a.count, &a.accounts)?;
    let ids = sign_in_many(target, &a.accounts, 0, a.count).await?;
    let before = a.server_pid.map(vm_rss_bytes).transpose()?;

    let progress = Progress::start("prototype idle: opening sockets", a.count);
    let (stop, stop_rx) = watch::channel(false);
    let permits = Arc::new(Semaphore::new(a.connect_concurrency as usize));
    let dropped = Arc::new(AtomicU64::new(0));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let started = Instant::now();
    let tasks: Vec<_> = ids
        .into_iter()
        .map(|id| {
            let (target, permits, tx, mut stop_rx, dropped) = (
                target.clone(),
                permits.clone(),
                tx.clone(),
                stop_rx.clone(),
                dropped.clone(),
            );
            tokio::spawn(async move {
                let opened = {
                    let Ok(_permit) = permits.acquire().await else {
                        return;
                    };
                    let t0 = Instant::now();
                    client::open(&target, &id).await.map(|s| (s, t0.elapsed()))
                };
                let mut socket = match opened {
                    Ok((s, took)) => {
                        let _ = tx.send(Ok(took));
                        s
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string()));
                        return;
                    }
                };
                // Keep reading while held, so the server's pings are answered.
                tokio::select! {
                    _ = stop_rx.wait_for(|stopped| *stopped) => {}
                    _ = ws::close_code(&mut socket) => {
                        dropped.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    drop(tx);

    let (mut opened, mut failed, mut first_error) = (0u64, 0u64, None);
    let mut connect = Latency::new();
    let deadline = tokio::time::Instant::now() + a.duration;
    while opened + failed < a.count {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(Ok(took))) => {
                opened += 1;
                connect.record(took);
                progress.counters.done();
            }
            Ok(Some(Err(e))) => {
                failed += 1;
                first_error.get_or_insert(e);
                progress.counters.error();
            }
            Ok(None) => break,
            Err(_) => {
                let missing = a.count - opened - failed;
                failed += missing;
                first_error.get_or_insert(format!("{missing} sockets not open by the deadline"));
                break;
            }
        }
    }
    let open_s = started.elapsed();
    drop(progress);
    tokio::time::sleep(a.hold).await;
    let after = a.server_pid.map(vm_rss_bytes).transpose()?;
    let dropped = dropped.load(Ordering::Relaxed);
    let _ = stop.send(true);
    let _ = tokio::time::timeout(CLOSE_GRACE, futures_util::future::join_all(tasks)).await;

    let server_rss = match (a.server_pid, before, after) {
        (Some(pid), Some(before_bytes), Some(after_bytes)) => {
            let per = after_bytes.saturating_sub(before_bytes) / opened.max(1);
            Some(ProtoRss {
                pid,
                before_bytes,
                after_bytes,
                per_socket_bytes: per,
                per_socket_kib: (per as f64 / 1024.0 * 100.0).round() / 100.0,
            })
        }
        _ => None,
    };
    Ok(ProtoIdleReport {
        scenario: "prototype-idle",
        target: target.to_string(),
        requested: a.count,
        opened,
        failed,
        dropped,
        open_s: open_s.as_secs_f64(),
        opened_per_s: per_second(opened, open_s),
        connect: connect.summary(),
        server_rss,
        first_error,
    })
}
