//! Undoing sign-ins the store never confirmed, once it answers again.
//!
//! `SignInService` queues every sign-in whose store call failed after it may
//! have run (a late reply, a dropped connection, a client that went away
//! mid-call); `UndoWorker`, a background task `startup` runs until shutdown,
//! calls `SessionStore::undo_sign_in` for each, retrying while the store is
//! unreachable. The store makes the undo safe to repeat and final, so no
//! live session is left that nobody holds a token for. Never blocks a request.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::domain::{AccountKey, Clock, SessionId};
use crate::store::{SessionStore, StoreError};

/// Sign-ins waiting to be undone, at most. Past it one is dropped with an
/// error logged; its session, if it was written, lives until its idle timeout.
const UNDO_QUEUE_CAPACITY: usize = 10_000;
/// Wait after an undo the store did not answer; doubles up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// A sign-in to undo: its account and the session id it would have created.
/// (The account by its key: a ticket's redemption knows no more.)
struct Unconfirmed {
    account: AccountKey,
    id: SessionId,
}

/// The queue's sending side; `SignInService` holds it.
#[derive(Clone)]
pub struct UndoQueue {
    tx: mpsc::Sender<Unconfirmed>,
}

/// The background task that works the queue off.
pub struct UndoWorker {
    rx: mpsc::Receiver<Unconfirmed>,
    store: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
}

/// A queue and the worker that undoes what is put in it on `store`.
pub fn undo_queue(store: Arc<dyn SessionStore>, clock: Arc<dyn Clock>) -> (UndoQueue, UndoWorker) {
    let (tx, rx) = mpsc::channel(UNDO_QUEUE_CAPACITY);
    (UndoQueue { tx }, UndoWorker { rx, store, clock })
}

impl UndoQueue {
    /// Asks for the sign-in on `account` that would have created `id` to be undone.
    pub fn push(&self, account: AccountKey, id: SessionId) {
        tracing::warn!(target: "audit", session_id = %id, "sign-in not confirmed by the store; it will be undone");
        if let Err(e) = self.tx.try_send(Unconfirmed { account, id }) {
            let Unconfirmed { id, .. } = e.into_inner();
            tracing::error!(session_id = %id, "undo queue full or stopped: this sign-in's session, if written, lives until its idle timeout");
        }
    }
}

impl UndoWorker {
    /// Undoes queued sign-ins one by one until `shutdown` fires.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let interrupted = loop {
            let next = tokio::select! {
                _ = shutdown.cancelled() => None,
                next = self.rx.recv() => next,
            };
            let Some(sign_in) = next else { break 0 };
            if !self.undo(&sign_in, &shutdown).await {
                break 1;
            }
        };
        let left = interrupted + self.rx.len();
        if left > 0 {
            tracing::warn!(left, "shutting down with sign-ins not undone: their sessions, if written, live until their idle timeout");
        }
    }

    /// Retries while the store is unreachable; false when shutdown came first.
    async fn undo(&self, sign_in: &Unconfirmed, shutdown: &CancellationToken) -> bool {
        let account = &sign_in.account;
        let mut backoff = FIRST_BACKOFF;
        loop {
            let now = self.clock.now();
            match self.store.undo_sign_in(account, &sign_in.id, now).await {
                Ok(ended) => {
                    tracing::info!(target: "audit", session_id = %sign_in.id, ended, "sign-in undone");
                    return true;
                }
                Err(StoreError::Unavailable(_)) => {}
                Err(e) => {
                    tracing::error!(error = ?e, session_id = %sign_in.id, "cannot undo a sign-in");
                    return true;
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return false,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}
