//! The reload tasks: apply reload requests, keep the store's sessions in
//! line with the users file, and put a changed API keys or webhooks file in
//! force.
//!
//! `startup` spawns `run_reloads`, `run_key_reloads` and
//! `run_webhook_reloads`; `main`, the only
//! reader of signals, holds a `ReloadHandle` and calls `request` on SIGHUP. Requests that arrive while
//! one is handled fold into one. A file that does not load changes nothing
//! (logged). Reconciling needs the store: while it is down (at start-up too)
//! the task retries with backoff until it answers.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::reconcile::Reconciler;
use super::webhooks::Webhooks;
use crate::auth::ApiKeys;

/// First wait before reconciling again after the store failed; doubles each time.
const RETRY_FIRST: Duration = Duration::from_secs(1);
/// Longest wait between two attempts.
const RETRY_MAX: Duration = Duration::from_secs(30);

/// Asks everything that can reload (the users file, the API keys, TLS
/// certificates) to read its files again; cheap to clone.
#[derive(Clone)]
pub struct ReloadHandle(Arc<watch::Sender<u64>>);

impl Default for ReloadHandle {
    fn default() -> Self {
        ReloadHandle(Arc::new(watch::channel(0).0))
    }
}

impl ReloadHandle {
    /// Queues a reload for every listener; a request while one is queued
    /// adds nothing.
    pub fn request(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Reload requests from now on, for one part that reloads.
    pub fn subscribe(&self) -> ReloadRequests {
        ReloadRequests(self.0.subscribe())
    }
}

/// One listener's reload requests.
pub struct ReloadRequests(watch::Receiver<u64>);

impl ReloadRequests {
    /// Waits for the next request; `false` once no request can come (every
    /// handle is gone).
    pub async fn next(&mut self) -> bool {
        self.0.changed().await.is_ok()
    }

    /// Calls `reload` on each request until `shutdown` or until no request
    /// can come: the whole life of a part whose reload cannot fail halfway.
    pub async fn for_each(mut self, shutdown: CancellationToken, mut reload: impl FnMut()) {
        loop {
            let more = tokio::select! {
                _ = shutdown.cancelled() => return,
                more = self.next() => more,
            };
            if !more {
                return;
            }
            reload();
        }
    }
}

/// Puts the API keys file in force again on each request, until
/// `shutdown`. A file that does not load leaves the keys in force (logged).
pub async fn run_key_reloads(
    keys: Arc<ApiKeys>,
    requests: ReloadRequests,
    shutdown: CancellationToken,
) {
    requests
        .for_each(shutdown, || match keys.reload() {
            Ok(Some(count)) => tracing::info!(target: "audit", keys = count, "API keys reloaded"),
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, "API keys not reloaded; the keys in force stay")
            }
        })
        .await
}

/// Puts the webhooks file in force again on each request, until
/// `shutdown`. A file that does not load leaves the endpoints in force
/// (logged); deliveries already scheduled use the new secrets.
pub async fn run_webhook_reloads(
    webhooks: Arc<Webhooks>,
    requests: ReloadRequests,
    shutdown: CancellationToken,
) {
    requests
        .for_each(shutdown, || match webhooks.reload() {
            Ok(Some(count)) => {
                tracing::info!(target: "audit", endpoints = count, "webhooks file reloaded")
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, "webhooks file not reloaded; the endpoints in force stay")
            }
        })
        .await
}

/// Reconciles once at start-up, then reloads and reconciles on each request,
/// until `shutdown`.
pub async fn run_reloads(
    reconciler: Reconciler,
    mut requests: ReloadRequests,
    shutdown: CancellationToken,
) {
    let mut pending = true;
    let mut retry = RETRY_FIRST;
    loop {
        if pending {
            let attempt = tokio::select! {
                _ = shutdown.cancelled() => return,
                result = reconciler.reconcile() => result,
            };
            match attempt {
                Ok(done) => {
                    tracing::info!(
                        checked = done.checked,
                        account_removed = done.account_removed,
                        password_changed = done.password_changed,
                        "sessions reconciled with the users file"
                    );
                    pending = false;
                    retry = RETRY_FIRST;
                }
                Err(e) => {
                    tracing::warn!(error = ?e, retry_in = ?retry, "cannot reconcile sessions with the users file yet");
                }
            }
        }
        let backoff = async {
            if pending {
                tokio::time::sleep(retry).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            more = requests.next() => {
                if !more {
                    // Nobody can ask any more: only shutdown is left.
                    shutdown.cancelled().await;
                    return;
                }
                if reload(&reconciler) {
                    pending = true;
                    retry = RETRY_FIRST;
                }
            }
            _ = backoff => retry = (retry * 2).min(RETRY_MAX),
        }
    }
}

/// Reloads the users file; true when new accounts are in force.
fn reload(reconciler: &Reconciler) -> bool {
    match reconciler.accounts.reload() {
        Ok(true) => {
            tracing::info!(target: "audit", "users file reloaded");
            true
        }
        Ok(false) => {
            tracing::warn!("reload requested, but there is no users file (demo accounts)");
            false
        }
        Err(e) => {
            tracing::error!(error = %e, "users file not reloaded; the accounts in force stay");
            false
        }
    }
}
