//! The progress line: once a second, one line on stderr saying how far a phase got.
//!
//! A phase owns a `Progress`; workers bump its counters. Dropping it stops the
//! printer. Stdout is left alone so that `--json` output stays clean.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Counters the workers of one phase bump.
#[derive(Debug, Default)]
pub struct Counters {
    pub done: AtomicU64,
    pub errors: AtomicU64,
}

impl Counters {
    pub fn done(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
    }

    pub fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }
}

/// A running progress printer for one phase.
pub struct Progress {
    pub counters: Arc<Counters>,
    printer: tokio::task::JoinHandle<()>,
}

impl Progress {
    /// Starts printing `label: done/total, errors, elapsed` every second.
    pub fn start(label: impl Into<String>, total: u64) -> Progress {
        let label = label.into();
        let counters = Arc::new(Counters::default());
        let shown = counters.clone();
        let printer = tokio::spawn(async move {
            let started = Instant::now();
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tick.tick().await;
                eprintln!(
                    "loadgen: {label}: {}/{total} done, {} errors, {:.1}s",
                    shown.done.load(Ordering::Relaxed),
                    shown.errors.load(Ordering::Relaxed),
                    started.elapsed().as_secs_f64()
                );
            }
        });
        Progress { counters, printer }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.printer.abort();
    }
}
