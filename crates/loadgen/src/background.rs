//! A password sign-in load: `concurrency` connections signing in, either as
//! fast as the server answers (closed loop) or paced to a rate (open loop).
//!
//! It is the `login` scenario's measurement and the background load of
//! `revoke`, `kick` and `ping-under-login-flood`. It stops when told, after
//! `max_count` sign-ins, or when its workers fail to connect; never on its own clock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

use crate::accounts::AccountArgs;
use crate::api;
use crate::http::HttpConn;
use crate::progress::Counters;
use crate::stats::{per_second, Latency, Summary};
use crate::target::Target;

/// How long `stop` waits for in-flight sign-ins.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// What to run.
#[derive(Clone, Debug)]
pub struct LoginLoadSpec {
    pub target: Target,
    pub accounts: AccountArgs,
    /// Sign in as accounts `first_account .. first_account + account_count`.
    pub first_account: u64,
    pub account_count: u64,
    /// Sign-ins per second; `None` = as fast as possible.
    pub rate: Option<f64>,
    pub concurrency: usize,
    /// Stop after this many sign-ins have been started.
    pub max_count: u64,
}

/// What happened.
#[derive(Debug, Serialize)]
pub struct LoginLoadReport {
    pub concurrency: usize,
    pub requested_per_s: Option<f64>,
    pub ok: u64,
    pub errors: u64,
    /// Paced sign-ins skipped because every connection was still busy.
    pub skipped: u64,
    pub per_s: f64,
    pub elapsed_s: f64,
    pub latency: Summary,
    pub first_error: Option<String>,
}

/// A running sign-in load.
pub struct LoginLoad {
    spec: LoginLoadSpec,
    stop: watch::Sender<bool>,
    workers: Vec<JoinHandle<Latency>>,
    pacer: Option<JoinHandle<()>>,
    counters: Arc<Counters>,
    skipped: Arc<AtomicU64>,
    first_error: Arc<Mutex<Option<String>>>,
    started: Instant,
}

impl LoginLoad {
    /// Starts the workers (and the pacer when a rate is set); `counters`
    /// receive one `done` per successful sign-in and one `error` per failure.
    pub fn start(spec: LoginLoadSpec, counters: Arc<Counters>) -> LoginLoad {
        let (stop, stop_rx) = watch::channel(false);
        let issued = Arc::new(AtomicU64::new(0));
        let skipped = Arc::new(AtomicU64::new(0));
        let first_error = Arc::new(Mutex::new(None));
        let permits = spec.rate.map(|_| Arc::new(Semaphore::new(0)));
        let pacer = match (spec.rate, &permits) {
            (Some(rate), Some(p)) => Some(tokio::spawn(pace(
                rate,
                spec.concurrency,
                p.clone(),
                skipped.clone(),
                stop_rx.clone(),
            ))),
            _ => None,
        };
        let workers = (0..spec.concurrency)
            .map(|_| {
                tokio::spawn(worker(
                    spec.clone(),
                    issued.clone(),
                    permits.clone(),
                    counters.clone(),
                    first_error.clone(),
                    stop_rx.clone(),
                ))
            })
            .collect();
        LoginLoad {
            spec,
            stop,
            workers,
            pacer,
            counters,
            skipped,
            first_error,
            started: Instant::now(),
        }
    }

    /// True once every worker has ended (count reached or connections failed).
    pub fn finished(&self) -> bool {
        self.workers.iter().all(JoinHandle::is_finished)
    }

    /// Stops the load and reports it.
    pub async fn stop(self) -> LoginLoadReport {
        let _ = self.stop.send(true);
        let elapsed = self.started.elapsed();
        if let Some(p) = self.pacer {
            p.abort();
        }
        let mut latency = Latency::new();
        for w in self.workers {
            let abort = w.abort_handle();
            match tokio::time::timeout(STOP_GRACE, w).await {
                Ok(Ok(l)) => latency.add(&l),
                Ok(Err(_)) => {}
                Err(_) => abort.abort(),
            }
        }
        let ok = self.counters.done.load(Ordering::Relaxed);
        LoginLoadReport {
            concurrency: self.spec.concurrency,
            requested_per_s: self.spec.rate,
            ok,
            errors: self.counters.errors.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
            per_s: per_second(ok, elapsed),
            elapsed_s: elapsed.as_secs_f64(),
            latency: latency.summary(),
            first_error: self.first_error.lock().expect("not poisoned").clone(),
        }
    }
}

/// Adds `rate` permits per second in 5 ms steps; what busy workers cannot
/// take (more than `concurrency` waiting) is counted as skipped.
async fn pace(
    rate: f64,
    concurrency: usize,
    permits: Arc<Semaphore>,
    skipped: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    let started = Instant::now();
    let mut granted = 0u64;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let due = (started.elapsed().as_secs_f64() * rate) as u64;
        let new = due.saturating_sub(granted);
        granted = due;
        let room = concurrency.saturating_sub(permits.available_permits()) as u64;
        permits.add_permits(new.min(room) as usize);
        skipped.fetch_add(new.saturating_sub(room), Ordering::Relaxed);
    }
}

async fn worker(
    spec: LoginLoadSpec,
    issued: Arc<AtomicU64>,
    permits: Option<Arc<Semaphore>>,
    counters: Arc<Counters>,
    first_error: Arc<Mutex<Option<String>>>,
    mut stop: watch::Receiver<bool>,
) -> Latency {
    let mut latency = Latency::new();
    let note = |e: String| {
        counters.error();
        first_error.lock().expect("not poisoned").get_or_insert(e);
    };
    let mut conn = match HttpConn::connect(&spec.target).await {
        Ok(c) => c,
        Err(e) => {
            note(e.to_string());
            return latency;
        }
    };
    loop {
        if let Some(p) = &permits {
            tokio::select! {
                permit = p.acquire() => match permit {
                    Ok(permit) => permit.forget(),
                    Err(_) => return latency,
                },
                _ = stop.changed() => return latency,
            }
        }
        if *stop.borrow() {
            return latency;
        }
        let n = issued.fetch_add(1, Ordering::Relaxed);
        if n >= spec.max_count {
            return latency;
        }
        let user = spec
            .accounts
            .name(spec.first_account + n % spec.account_count.max(1));
        let started = Instant::now();
        match api::login(&mut conn, &user, &spec.accounts.password, "loadgen-login").await {
            Ok(_) => {
                latency.record(started.elapsed());
                counters.done();
            }
            Err(e) => {
                note(e.to_string());
                // A broken connection is replaced; a refused one ends this worker.
                match HttpConn::connect(&spec.target).await {
                    Ok(c) => conn = c,
                    Err(_) => return latency,
                }
            }
        }
    }
}
