//! Opens and holds a share of the idle sockets; the same code runs inside the
//! `idle` process, in an `idle-worker` child (`idle --processes K`), or for
//! `prototype idle` (the job's `Dial` says which server's socket).
//!
//! One task per socket: it connects (from its source address), authenticates,
//! reports, then reads until told to stop so that the server's pings are
//! answered; a `force_logout` it reads meanwhile is kept (`Held::kicks`).
//! The worker protocol is one JSON `OpenJob` line on stdin, one `OpenResult`
//! line on stdout when the sockets are open, stdin EOF to close them, and one
//! `HoldEnd` line on stdout once they are closed.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinHandle;

use super::dial::Dial;
use crate::progress::{Counters, Progress};
use crate::target::{source_addr, Target};
use crate::ws::{self, Kick, Ws};
use crate::LoadgenError;

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
    pub dial: Dial,
    /// Tokens or session ids (as `dial` wants), reused round-robin.
    pub keys: Vec<String>,
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

impl OpenResult {
    /// Adds another share's result to this one (its first error only if
    /// this one has none).
    pub fn merge(&mut self, other: OpenResult) {
        self.opened += other.opened;
        self.failed += other.failed;
        self.connect_us.extend(other.connect_us);
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
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
    kicks: Kicks,
}

/// The `force_logout`s the held sockets read, as they came.
type Kicks = Arc<Mutex<Vec<Kick>>>;

impl Held {
    /// How many held sockets have read a `force_logout` so far.
    pub fn kicked(&self) -> usize {
        self.kicks.lock().expect("not poisoned").len()
    }

    /// Every `force_logout` read so far.
    pub fn kicks(&self) -> Vec<Kick> {
        std::mem::take(&mut *self.kicks.lock().expect("not poisoned"))
    }

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
    if job.keys.is_empty() {
        return Err(LoadgenError::Arg("no session keys for the sockets".into()));
    }
    let (stop, stop_rx) = watch::channel(false);
    let permits = Arc::new(Semaphore::new(job.concurrency as usize));
    let dropped = Arc::new(AtomicU64::new(0));
    let kicks = Kicks::default();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let keys: Arc<[String]> = job.keys.clone().into();
    let tasks = (0..job.count)
        .map(|k| {
            let i = job.first_index + k;
            let (target, dial) = (target.clone(), job.dial);
            let source = source_addr(&target, job.sources, i);
            let key = keys[(i % keys.len() as u64) as usize].clone();
            let opening = async move {
                dial.open(&target, source, &key)
                    .await
                    .map_err(|e| match source {
                        Some(ip) => format!("{e} (source {ip})"),
                        None => e.to_string(),
                    })
            };
            tokio::spawn(hold_one(
                opening,
                permits.clone(),
                tx.clone(),
                stop_rx.clone(),
                (dropped.clone(), kicks.clone()),
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
            kicks,
        },
    ))
}

/// Runs `opening` once a permit is free, reports how it went, then holds
/// the socket until told to stop (or the server closes it, after a
/// `force_logout` or not).
async fn hold_one(
    opening: impl Future<Output = Result<Ws, String>>,
    permits: Arc<Semaphore>,
    report: mpsc::UnboundedSender<Result<Duration, String>>,
    mut stop: watch::Receiver<bool>,
    (dropped, kicks): (Arc<AtomicU64>, Kicks),
) {
    let opened = {
        let Ok(_permit) = permits.acquire().await else {
            return;
        };
        if *stop.borrow() {
            return;
        }
        let started = Instant::now();
        opening.await.map(|ws| (ws, started.elapsed()))
    };
    let mut ws = match opened {
        Ok((ws, took)) => {
            let _ = report.send(Ok(took));
            ws
        }
        Err(e) => {
            let _ = report.send(Err(e));
            return;
        }
    };
    tokio::select! {
        _ = stop.wait_for(|stopped| *stopped) => {}
        kick = ws::kick_on(&mut ws) => {
            dropped.fetch_add(1, Ordering::Relaxed);
            if let Ok(Some(kick)) = kick {
                kicks.lock().expect("not poisoned").push(kick);
            }
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
