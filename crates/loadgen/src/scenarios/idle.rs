//! `idle`: N authenticated WebSockets held open; the server's RSS per socket.
//!
//! Signs in `--sessions` sessions (before the first RSS sample, and with
//! `--sign-in-via` on another instance, so neither session state nor argon2's
//! buffers are billed to the sockets), then opens and holds the sockets in
//! this process or over `--processes` children. The report and the
//! in-process hold also serve `prototype idle`.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

use super::dial::Dial;
use super::idle_sockets::{open_and_hold, HoldEnd, OpenJob, OpenResult};
use super::rss::{RssProbe, RssReport};
use super::setup::sign_in_all;
use crate::cli::IdleArgs;
use crate::procfs::open_file_limit;
use crate::progress::Progress;
use crate::stats::{per_second, Latency, Summary};
use crate::target::Target;
use crate::LoadgenError;

/// Descriptors a client process needs besides its sockets.
const SPARE_FDS: u64 = 64;

/// How long a worker child may take to exit after its stdin closes.
const WORKER_EXIT_GRACE: Duration = Duration::from_secs(30);

/// The report of `idle` and of `prototype idle`.
#[derive(Debug, Serialize)]
pub struct IdleReport {
    pub scenario: &'static str,
    pub target: String,
    pub requested: u64,
    pub opened: u64,
    pub failed: u64,
    /// Sockets the server closed during the hold.
    pub dropped: u64,
    /// How `idle` spread the sockets (`prototype idle` has one session per
    /// socket and one process).
    #[serde(flatten)]
    pub spread: Option<Spread>,
    pub open_s: f64,
    pub opened_per_s: f64,
    /// Connect + upgrade + auth (prototype: first ping/pong), per socket.
    pub connect: Summary,
    pub server_rss: Option<RssReport>,
    pub first_error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Spread {
    pub sessions: u64,
    pub sources: u8,
    pub processes: u32,
}

/// How a run's sockets did: opening them, and what holding them cost.
pub(crate) struct Holding {
    opened: OpenResult,
    open_s: Duration,
    dropped: u64,
    server_rss: Option<RssReport>,
}

/// Opens `job`'s sockets in this process, holds them for `hold`, samples the
/// server's RSS at the end of the hold, then closes them.
pub(crate) async fn hold_in_process(
    job: &OpenJob,
    label: &str,
    hold: Duration,
    rss: &RssProbe,
) -> Result<Holding, LoadgenError> {
    let started = Instant::now();
    let progress = Progress::start(label, job.count);
    let (opened, held) = open_and_hold(job, progress.counters.clone()).await?;
    drop(progress);
    let open_s = started.elapsed();
    tokio::time::sleep(hold).await;
    let server_rss = rss.per_socket(opened.opened)?;
    let end = held.close().await;
    Ok(Holding {
        opened,
        open_s,
        dropped: end.dropped,
        server_rss,
    })
}

impl IdleReport {
    pub(crate) fn new(
        scenario: &'static str,
        target: &Target,
        requested: u64,
        spread: Option<Spread>,
        h: Holding,
    ) -> IdleReport {
        let mut connect = Latency::new();
        for &us in &h.opened.connect_us {
            connect.record_us(us);
        }
        IdleReport {
            scenario,
            target: target.to_string(),
            requested,
            opened: h.opened.opened,
            failed: h.opened.failed,
            dropped: h.dropped,
            spread,
            open_s: h.open_s.as_secs_f64(),
            opened_per_s: per_second(h.opened.opened, h.open_s),
            connect: connect.summary(),
            server_rss: h.server_rss,
            first_error: h.opened.first_error,
        }
    }
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
    let rss = RssProbe::start(a.server_pid)?;
    let jobs: Vec<OpenJob> = (0..u64::from(a.processes))
        .map(|p| {
            let first = p * per_process;
            OpenJob {
                target: target.to_string(),
                first_index: first,
                count: per_process.min(a.count.saturating_sub(first)),
                sources: a.sources,
                dial: Dial::Token,
                keys: tokens.clone(),
                concurrency: a.run.connect_concurrency.div_ceil(u64::from(a.processes)),
                open_timeout_ms: a.run.duration.as_millis() as u64,
            }
        })
        .filter(|j| j.count > 0)
        .collect();

    let holding = if a.processes == 1 {
        hold_in_process(&jobs[0], "idle: opening sockets", a.run.hold, &rss).await?
    } else {
        hold_in_workers(&jobs, a.run.duration, a.run.hold, &rss).await?
    };
    let spread = Spread {
        sessions: tokens.len() as u64,
        sources: a.sources,
        processes: a.processes,
    };
    Ok(IdleReport::new(
        "idle",
        target,
        a.count,
        Some(spread),
        holding,
    ))
}

/// `hold_in_process` with one `idle-worker` child per job; each may take
/// `open_timeout` and a minute more to report.
async fn hold_in_workers(
    jobs: &[OpenJob],
    open_timeout: Duration,
    hold: Duration,
    rss: &RssProbe,
) -> Result<Holding, LoadgenError> {
    let started = Instant::now();
    let mut children = Vec::new();
    for job in jobs {
        children.push(spawn_worker(job).await?);
    }
    let mut opened = OpenResult::default();
    for (child, reader) in &mut children {
        match read_line::<OpenResult>(reader, open_timeout + Duration::from_secs(60)).await {
            Ok(r) => opened.merge(r),
            Err(e) => {
                let _ = child.start_kill();
                return Err(e);
            }
        }
    }
    let open_s = started.elapsed();
    tokio::time::sleep(hold).await;
    let server_rss = rss.per_socket(opened.opened)?;
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
    Ok(Holding {
        opened,
        open_s,
        dropped,
        server_rss,
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
