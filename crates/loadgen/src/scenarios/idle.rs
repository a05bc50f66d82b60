//! `idle`: N authenticated WebSockets held open; the server's RSS per socket.
//!
//! Signs in `--sessions` sessions, samples the server's VmRSS, opens the
//! sockets (in this process or spread over `--processes` children, each
//! connecting from 127.0.0.x source addresses), holds them, samples again.
//! RSS per socket = (after - before) / opened. Sign-ins are made before the
//! first sample so that session state is not billed to the sockets; with
//! `--sign-in-via` they run on another instance, so argon2's 19 MiB buffers
//! never touch the measured server's heap.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

use super::idle_sockets::{open_and_hold, HoldEnd, OpenJob, OpenResult};
use super::setup::sign_in_all;
use crate::cli::IdleArgs;
use crate::procfs::{open_file_limit, vm_rss_bytes};
use crate::progress::Progress;
use crate::stats::{per_second, Latency, Summary};
use crate::LoadgenError;

/// Descriptors a client process needs besides its sockets.
const SPARE_FDS: u64 = 64;

/// How long a worker child may take to exit after its stdin closes.
const WORKER_EXIT_GRACE: Duration = Duration::from_secs(30);

#[derive(Debug, Serialize)]
pub struct IdleReport {
    pub scenario: &'static str,
    pub target: String,
    pub requested: u64,
    pub opened: u64,
    pub failed: u64,
    /// Sockets the server closed during the hold.
    pub dropped: u64,
    pub sessions: u64,
    pub sources: u8,
    pub processes: u32,
    pub open_s: f64,
    pub opened_per_s: f64,
    /// Connect + upgrade + auth, per socket.
    pub connect: Summary,
    pub server_rss: Option<RssReport>,
    pub first_error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct RssReport {
    pub pid: u32,
    pub before_bytes: u64,
    pub after_bytes: u64,
    pub per_socket_bytes: u64,
    pub per_socket_kib: f64,
}

pub async fn run(a: &IdleArgs) -> Result<IdleReport, LoadgenError> {
    let per_process = a.count.div_ceil(u64::from(a.processes));
    if let Some(limit) = open_file_limit() {
        if per_process + SPARE_FDS > limit {
            return Err(LoadgenError::Arg(format!(
                "each client process would hold {per_process} sockets but may open only {limit} files: \
                 raise `ulimit -n` or pass --processes {}",
                a.count.div_ceil(limit.saturating_sub(SPARE_FDS).max(1))
            )));
        }
    }
    let target = &a.target.target;
    let sessions = sign_in_all(
        a.sign_in_via.as_ref().unwrap_or(target),
        &a.accounts,
        0,
        a.sessions.min(a.count),
        "loadgen-idle",
    )
    .await?;
    let tokens: Vec<String> = sessions.into_iter().map(|s| s.token).collect();
    let before = a.server_pid.map(vm_rss_bytes).transpose()?;
    let jobs: Vec<OpenJob> = (0..u64::from(a.processes))
        .map(|p| {
            let first = p * per_process;
            OpenJob {
                target: target.to_string(),
                first_index: first,
                count: per_process.min(a.count.saturating_sub(first)),
                sources: a.sources,
                tokens: tokens.clone(),
                concurrency: a.connect_concurrency.div_ceil(u64::from(a.processes)),
                open_timeout_ms: a.duration.as_millis() as u64,
            }
        })
        .filter(|j| j.count > 0)
        .collect();

    let started = Instant::now();
    let (results, dropped, after) = if a.processes == 1 {
        let progress = Progress::start("idle: opening sockets", a.count);
        let (result, held) = open_and_hold(&jobs[0], progress.counters.clone()).await?;
        drop(progress);
        let open_s = started.elapsed();
        tokio::time::sleep(a.hold).await;
        let after = a.server_pid.map(vm_rss_bytes).transpose()?;
        let end = held.close().await;
        (vec![(result, open_s)], end.dropped, after)
    } else {
        let mut children = Vec::new();
        for job in &jobs {
            children.push(spawn_worker(job).await?);
        }
        let mut results = Vec::new();
        for (child, reader) in &mut children {
            let result =
                read_line::<OpenResult>(reader, a.duration + Duration::from_secs(60)).await;
            match result {
                Ok(r) => results.push((r, started.elapsed())),
                Err(e) => {
                    let _ = child.start_kill();
                    return Err(e);
                }
            }
        }
        tokio::time::sleep(a.hold).await;
        let after = a.server_pid.map(vm_rss_bytes).transpose()?;
        let mut dropped = 0;
        for (child, _) in &mut children {
            drop(child.stdin.take());
        }
        for (mut child, mut reader) in children {
            match read_line::<HoldEnd>(&mut reader, WORKER_EXIT_GRACE).await {
                Ok(end) => dropped += end.dropped,
                Err(_) => {
                    let _ = child.start_kill();
                }
            }
            let _ = tokio::time::timeout(WORKER_EXIT_GRACE, child.wait()).await;
        }
        (results, dropped, after)
    };

    let open_s = results.iter().map(|(_, t)| *t).max().unwrap_or_default();
    let mut connect = Latency::new();
    let (mut opened, mut failed, mut first_error) = (0, 0, None);
    for (r, _) in &results {
        opened += r.opened;
        failed += r.failed;
        for &us in &r.connect_us {
            connect.record_us(us);
        }
        if first_error.is_none() {
            first_error.clone_from(&r.first_error);
        }
    }
    let server_rss = match (a.server_pid, before, after) {
        (Some(pid), Some(before_bytes), Some(after_bytes)) => {
            let per = after_bytes.saturating_sub(before_bytes) / opened.max(1);
            Some(RssReport {
                pid,
                before_bytes,
                after_bytes,
                per_socket_bytes: per,
                per_socket_kib: (per as f64 / 1024.0 * 100.0).round() / 100.0,
            })
        }
        _ => None,
    };
    Ok(IdleReport {
        scenario: "idle",
        target: target.to_string(),
        requested: a.count,
        opened,
        failed,
        dropped,
        sessions: tokens.len() as u64,
        sources: a.sources,
        processes: a.processes,
        open_s: open_s.as_secs_f64(),
        opened_per_s: per_second(opened, open_s),
        connect: connect.summary(),
        server_rss,
        first_error,
    })
}

type WorkerOut = BufReader<tokio::process::ChildStdout>;

/// Starts `loadgen idle-worker` and hands it its job on stdin.
async fn spawn_worker(job: &OpenJob) -> Result<(Child, WorkerOut), LoadgenError> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .arg("idle-worker")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let mut line = serde_json::to_string(job)?;
    line.push('\n');
    let stdin = child
        .stdin
        .as_mut()
        .ok_or_else(|| LoadgenError::Worker("no stdin".into()))?;
    stdin.write_all(line.as_bytes()).await?;
    stdin.flush().await?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| LoadgenError::Worker("no stdout".into()))?;
    Ok((child, BufReader::new(stdout)))
}

/// The worker's next JSON line, within `limit`.
async fn read_line<T: serde::de::DeserializeOwned>(
    reader: &mut WorkerOut,
    limit: Duration,
) -> Result<T, LoadgenError> {
    let mut line = String::new();
    match tokio::time::timeout(limit, reader.read_line(&mut line)).await {
        Ok(Ok(0)) => Err(LoadgenError::Worker("exited without reporting".into())),
        Ok(Ok(_)) => Ok(serde_json::from_str(&line)?),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(LoadgenError::Timeout("idle worker report")),
    }
}
