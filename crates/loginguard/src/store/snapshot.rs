//! `SnapshotCache`: every live session of every account, read at most once
//! per TTL and shared by the admin list and the live-session gauge.
//!
//! Listing walks the whole store, so readers share one copy. It is refreshed
//! by one caller at a time (the lock is held across the store call on
//! purpose, so a burst of readers costs one walk). Sorted by account, then
//! age, then id: the order cursors page through.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;

use super::{SessionStore, StoreError};
use crate::domain::{Clock, Millis, Session};

/// When a snapshot was taken, and what it holds.
pub type Snapshot = (Millis, Arc<Vec<Session>>);

pub struct SnapshotCache {
    store: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
    ttl: Duration,
    slot: Mutex<Option<Snapshot>>,
}

impl SnapshotCache {
    pub fn new(store: Arc<dyn SessionStore>, clock: Arc<dyn Clock>, ttl: Duration) -> Self {
        SnapshotCache {
            store,
            clock,
            ttl,
            slot: Mutex::new(None),
        }
    }

    /// The snapshot, refreshed only when older than `max_age` (which is
    /// never taken below the TTL).
    pub async fn within(&self, max_age: Duration) -> Result<Snapshot, StoreError> {
        let max_age = max_age.max(self.ttl);
        let mut slot = self.slot.lock().await;
        let now = self.clock.now();
        if let Some((at, list)) = slot.as_ref() {
            if now.since(*at) < max_age.as_millis() as u64 {
                return Ok((*at, list.clone()));
            }
        }
        let mut all = self.store.list_all(now).await?;
        all.sort_by(|a, b| snapshot_order(a).cmp(&snapshot_order(b)));
        let fresh = (now, Arc::new(all));
        *slot = Some(fresh.clone());
        Ok(fresh)
    }

    /// The snapshot, at most the TTL old.
    pub async fn fresh(&self) -> Result<Snapshot, StoreError> {
        self.within(self.ttl).await
    }

    /// Forgets the snapshot, so a writer's next read reflects its own change.
    pub async fn invalidate(&self) {
        *self.slot.lock().await = None;
    }
}

/// The order of a snapshot: account, then age, then id.
pub fn snapshot_order(s: &Session) -> (&str, u64, &str) {
    (s.username.as_str(), s.created_at.0, s.session_id.as_str())
}
