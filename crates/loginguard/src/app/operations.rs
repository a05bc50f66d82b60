//! Operations use cases: readiness and the metrics page.
//!
//! Ready means the store answers and this instance hears its events (a
//! socket here could otherwise miss a kick). The metrics page reads the
//! on-demand gauges (store and event health, the hashing queue, sockets)
//! at scrape time. The live-session gauge comes
//! from the shared snapshot, at most a minute old, so scrapes do not walk
//! the store every few seconds.

use std::sync::Arc;
use std::time::Duration;

use super::AppError;
use crate::auth::PasswordVerifier;
use crate::events::BusHealth;
use crate::metrics::{Metrics, Readings};
use crate::presence::LocalSockets;
use crate::store::{SessionStore, SnapshotCache, StoreError};

/// How old the live-session count in `/metrics` may be.
const LIVE_COUNT_MAX_AGE: Duration = Duration::from_secs(60);

pub struct Operations {
    pub store: Arc<dyn SessionStore>,
    pub bus_health: Arc<BusHealth>,
    pub snapshot: Arc<SnapshotCache>,
    pub sockets: Arc<dyn LocalSockets>,
    pub verifier: PasswordVerifier,
    pub metrics: Arc<Metrics>,
}

impl Operations {
    pub async fn ready(&self) -> Result<(), AppError> {
        self.store.ping().await?;
        if !self.bus_health.is_live() {
            return Err(StoreError::EventsNotHeard.into());
        }
        Ok(())
    }

    /// The Prometheus text page; live sessions count 0 while the store is down.
    pub async fn metrics_text(&self) -> String {
        let live = match self.snapshot.within(LIVE_COUNT_MAX_AGE).await {
            Ok((_, all)) => all.len(),
            Err(_) => 0,
        };
        self.metrics.render(&Readings {
            open_sockets: self.sockets.socket_count(),
            live_sessions: live,
            store_up: self.store.ping().await.is_ok(),
            events_subscribed: self.bus_health.is_live(),
            hashing_queue_depth: self.verifier.queue_depth(),
            hashing_queue_capacity: PasswordVerifier::QUEUE_CAPACITY,
        })
    }
}
