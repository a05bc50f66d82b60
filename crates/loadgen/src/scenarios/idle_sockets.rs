//! Opens and holds a share of the idle sockets; the same code runs inside the
//! `idle` process or in an `idle-worker` child (`idle --processes K`).
//!
//! One task per socket: it connects (from its source address), authenticates,
//! reports, then reads until told to stop so that protocol pings are answered.
//! The worker protocol is one JSON `OpenJob` line on stdin, one `OpenResult`
//! line on stdout when the sockets are open, stdin EOF to close them, and one
//! `HoldEnd` line on stdout once they are closed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinHandle;

use crate::progress::{Counters, Progress};
use crate::target::{source_addr, Target};
use crate::{ws, LoadgenError};

/// How long closing the held sockets may take.
const CLOSE_GRACE: Duration = Duration::from_secs(30);

/// One process's share of the sockets.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OpenJob {
    pub target: String,
    /// Global index of this share's first socket (it picks source and token).
    pub first_index: u64,
    pub count: u64,
    pub sources: u8,
    pub tokens: Vec<String>,
    pub concurrency: u64,
    /// Stop opening after this long.
    pub open_timeout_ms: u64,
}

/// How opening went.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct OpenResult {
    pub opened: u64,
    pub failed: u64,
    /// Connect + upgrade + auth time of each opened socket.
    pub connect_us: Vec<u64>,
    pub first_error: Option<String>,
}

/// How holding went (a worker's last line).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct HoldEnd {
    /// Sockets the server closed while they were held.
    pub dropped: u64,
}

/// Sockets being held open.
pub struct Held {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    dropped: Arc<AtomicU64>,
}

impl Held {
    /// Closes every socket, waits (bounded) for their tasks, tells how it went.
    pub async fn close(self) -> HoldEnd {
        let dropped = self.dropped.load(Ordering::Relaxed);
        let _ = self.stop.send(true);
        let all = futures_util::future::join_all(self.tasks);
        let _ = tokio::time::timeout(CLOSE_GRACE, all).await;
        HoldEnd { dropped }
    }
}

/// Opens `job.count` sockets and keeps them open until `Held::close`.
pub async fn open_and_hold(
    job: &OpenJob,
    counters: Arc<Counters>,
) -> Result<(OpenResult, Held), LoadgenError> {
    let target = Target::parse(&job.target)?;
    if job.tokens.is_empty() {
        return Err(LoadgenError::Arg(
            "no session tokens for the sockets".into(),
        ));
    }
    let (stop, stop_rx) = watch::channel(false);
    let permits = Arc::new(Semaphore::new(job.concurrency as usize));
    let dropped = Arc::new(AtomicU64::new(0));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let tokens: Arc<[String]> = job.tokens.clone().into();
    let tasks = (0..job.count)
        .map(|k| {
            let i = job.first_index + k;
            tokio::spawn(hold_one(
                target.clone(),
                source_addr(&target, job.sources, i),
                tokens[(i % tokens.len() as u64) as usize].clone(),
                permits.clone(),
                tx.clone(),
                stop_rx.clone(),
                dropped.clone(),
            ))
        })
        .collect();
    drop(tx);
    let mut result = OpenResult::default();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(job.open_timeout_ms);
    while result.opened + result.failed < job.count {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(Ok(took))) => {
                result.opened += 1;
                result.connect_us.push(took.as_micros() as u64);
                counters.done();
            }
            Ok(Some(Err(e))) => {
                result.failed += 1;
                result.first_error.get_or_insert(e);
                counters.error();
            }
            Ok(None) => break,
            Err(_) => {
                let missing = job.count - result.opened - result.failed;
                result.failed += missing;
                result
                    .first_error
                    .get_or_insert(format!("{missing} sockets not open by the deadline"));
                break;
            }
        }
    }
    Ok((
        result,
        Held {
            stop,
            tasks,
            dropped,
        },
    ))
}

async fn hold_one(
    target: Target,
    source: Option<std::net::IpAddr>,
    token: String,
    permits: Arc<Semaphore>,
    report: mpsc::UnboundedSender<Result<Duration, String>>,
    mut stop: watch::Receiver<bool>,
    dropped: Arc<AtomicU64>,
) {
    let opened = {
        let Ok(_permit) = permits.acquire().await else {
            return;
        };
        if *stop.borrow() {
            return;
        }
        let started = Instant::now();
        ws::open_authed(&target, source, &token)
            .await
            .map(|ws| (ws, started.elapsed()))
    };
    let mut ws = match opened {
        Ok((ws, took)) => {
            let _ = report.send(Ok(took));
            ws
        }
        Err(e) => {
            let _ = report.send(Err(format!("{e} (source {source:?})")));
            return;
        }
    };
    tokio::select! {
        _ = stop.wait_for(|stopped| *stopped) => {}
        _ = ws::close_code(&mut ws) => {
            dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// `loadgen idle-worker`: reads a job from stdin, opens, reports on stdout,
/// holds until stdin ends.
pub async fn worker_main() -> Result<(), LoadgenError> {
    let mut stdin = BufReader::new(tokio::io::stdin());
    let mut line = String::new();
    stdin.read_line(&mut line).await?;
    let job: OpenJob = serde_json::from_str(&line)?;
    let progress = Progress::start(
        format!("idle worker from socket {}", job.first_index),
        job.count,
    );
    let (result, held) = open_and_hold(&job, progress.counters.clone()).await?;
    drop(progress);
    let mut stdout = tokio::io::stdout();
    write_line(&mut stdout, &result).await?;
    // Hold until the parent closes our stdin (or dies).
    let mut rest = Vec::new();
    let _ = stdin.read_to_end(&mut rest).await;
    let end = held.close().await;
    write_line(&mut stdout, &end).await
}

async fn write_line(
    out: &mut tokio::io::Stdout,
    value: &impl Serialize,
) -> Result<(), LoadgenError> {
    let mut line = serde_json::to_string(value)?;
    line.push('\n');
    out.write_all(line.as_bytes()).await?;
    out.flush().await?;
    Ok(())
}
