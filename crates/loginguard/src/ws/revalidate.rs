//! Revalidation: recheck every open socket's session against the store.
//!
//! Runs on a `TaskTracker` from `startup`. It wakes when a bus says events may
//! have been lost (`Hub::resync_requested`) and on a periodic sweep, which
//! also lets the store forget what has expired (sockets push their own
//! session's expiry; the sweep is the backstop). Sessions
//! are checked in batches; ended ones are kicked with their stored reason and
//! vanished ones (store data lost) are closed with 4003. A failing store is
//! retried at the next wake-up, never in a tight loop.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::close::CloseCode;
use super::hub::Hub;
use crate::domain::{AccountKey, Clock, Lookup};
use crate::store::SessionStore;

/// Sessions checked per store call.
const BATCH: usize = 500;

/// What woke the loop.
#[derive(Clone, Copy, Debug)]
enum Wake {
    /// A bus may have lost events.
    Resync,
    /// The periodic timer: also the store's upkeep.
    Sweep,
}

/// Runs until `shutdown`: a full check on every resync request and every `every`.
pub async fn run(
    hub: Arc<Hub>,
    store: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
    every: Duration,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        let wake = tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = hub.resync_requested() => Wake::Resync,
            _ = tick.tick() => Wake::Sweep,
        };
        if matches!(wake, Wake::Sweep) {
            if let Err(e) = store.maintain(clock.now()).await {
                tracing::debug!(error = %e, "store maintenance skipped");
            }
        }
        match check_all(&hub, store.as_ref(), clock.as_ref()).await {
            Ok(0) => {}
            Ok(kicked) => tracing::info!(
                kicked,
                ?wake,
                "revalidation closed sockets of ended sessions"
            ),
            Err(e) => {
                tracing::warn!(error = %e, ?wake, "revalidation could not reach the store; will retry")
            }
        }
    }
}

/// One pass over every local session; returns how many were closed.
async fn check_all(
    hub: &Hub,
    store: &dyn SessionStore,
    clock: &dyn Clock,
) -> Result<usize, crate::store::StoreError> {
    let sessions = hub.local_sessions();
    let mut closed = 0;
    for chunk in sessions.chunks(BATCH) {
        let refs: Vec<_> = chunk
            .iter()
            .map(|(user, id)| (AccountKey::of(user), id.clone()))
            .collect();
        let results = store.check(&refs, clock.now()).await?;
        for ((user, id), lookup) in chunk.iter().zip(results) {
            match lookup {
                Lookup::Live(_) => {}
                Lookup::Ended(t) => {
                    hub.kick(
                        user,
                        std::slice::from_ref(id),
                        t.reason,
                        t.by.as_ref(),
                        t.revoked_at,
                    );
                    closed += 1;
                }
                Lookup::Unknown => {
                    hub.close_session(user, id, CloseCode::Unauthorized);
                    closed += 1;
                }
            }
        }
    }
    Ok(closed)
}
