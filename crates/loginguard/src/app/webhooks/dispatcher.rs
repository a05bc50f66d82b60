//! The webhook dispatcher: moves audit events through the store's outbox to
//! the receivers, at least once each, retried on the `RetrySchedule`.
//!
//! `startup` spawns `Dispatcher::run` when `--webhooks` is set. Three loops
//! share one cancellation token: intake (new events -> one scheduled
//! delivery per subscribed endpoint), delivery (due deliveries, leased, each
//! attempt in its own task, at most `MAX_IN_FLIGHT` at once) and the backlog
//! gauges. Sign-ins never wait on any of it: the store wrote the event in
//! its own step, and a slow or dead receiver only holds a delivery task.
//! Store errors are logged once per change of state and retried.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::deliver::{Attempt, Sender};
use super::endpoints::Webhooks;
use crate::domain::{Clock, Millis, RetrySchedule};
use crate::metrics::Metrics;
use crate::store::{Delivery, OutboxEvent, StoreError, WebhookOutbox};

/// Delivery attempts running at once on one instance.
const MAX_IN_FLIGHT: usize = 64;
/// Events read from the outbox per call.
const INTAKE_BATCH: usize = 128;
/// How long one intake call waits for new events.
const INTAKE_WAIT: Duration = Duration::from_secs(1);
/// How often the schedule is looked at for due retries when nothing woke us.
const POLL: Duration = Duration::from_millis(250);
/// How often the backlog gauges are refreshed.
const BACKLOG_EVERY: Duration = Duration::from_secs(2);
/// Wait after a store error before the loop tries again.
const STORE_RETRY: Duration = Duration::from_secs(1);
/// A lease outlives the attempt's deadline by this, so a live holder always
/// settles before anyone else may take the delivery.
const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// Everything the loops need; cheap to clone.
#[derive(Clone)]
pub struct Dispatcher {
    pub outbox: Arc<dyn WebhookOutbox>,
    pub webhooks: Arc<Webhooks>,
    pub sender: Sender,
    pub schedule: RetrySchedule,
    /// The deadline of one attempt (what `sender` was built with).
    pub timeout: Duration,
    /// Entries the audit trail keeps: unread events past it are lost.
    pub audit_cap: u64,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
}

impl Dispatcher {
    /// Runs intake, delivery and the backlog gauges until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let wake = Arc::new(Notify::new());
        tokio::join!(
            self.clone().intake(wake.clone(), shutdown.clone()),
            self.clone().deliveries(wake, shutdown.clone()),
            self.backlog(shutdown),
        );
    }

    async fn intake(self, wake: Arc<Notify>, shutdown: CancellationToken) {
        let mut failing = false;
        loop {
            let read = tokio::select! {
                _ = shutdown.cancelled() => return,
                read = self.outbox.next_events(INTAKE_BATCH, INTAKE_WAIT) => read,
            };
            let scheduled = match read {
                Ok(events) if events.is_empty() => Ok(()),
                Ok(events) => self.schedule_events(&events).await,
                Err(e) => Err(e),
            };
            if !self.note("webhook intake", &scheduled, &mut failing) {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(STORE_RETRY) => {}
                }
                continue;
            }
            wake.notify_one();
        }
    }

    /// One delivery per event and subscribed endpoint, due now; then the
    /// events count as handled.
    async fn schedule_events(&self, events: &[OutboxEvent]) -> Result<(), StoreError> {
        let endpoints = self.webhooks.current();
        let mut deliveries = Vec::new();
        for event in events {
            let body = serde_json::to_string(&event.body).map_err(StoreError::corrupt)?;
            for endpoint in endpoints.wanting(event.event()) {
                deliveries.push(Delivery {
                    message_id: event.message_id.clone(),
                    url: endpoint.url.clone(),
                    body: body.clone(),
                    born: event.at,
                    failures: 0,
                    lease: Millis::default(),
                });
            }
        }
        let handled: Vec<String> = events.iter().map(|e| e.cursor.clone()).collect();
        let dropped = self
            .outbox
            .enqueue(deliveries, &handled, self.clock.now())
            .await?;
        if dropped > 0 {
            self.metrics.webhook_delivery("dropped", dropped);
            tracing::warn!(
                dropped,
                "webhook schedule full: deliveries dropped (memory store)"
            );
        }
        Ok(())
    }

    async fn deliveries(self, wake: Arc<Notify>, shutdown: CancellationToken) {
        let mut running: JoinSet<()> = JoinSet::new();
        let mut failing = false;
        loop {
            while running.try_join_next().is_some() {}
            let room = MAX_IN_FLIGHT - running.len();
            let now = self.clock.now();
            let claimed = if room > 0 {
                self.outbox
                    .claim_due(now, now.plus(self.timeout + LEASE_MARGIN), room)
                    .await
            } else {
                Ok(Vec::new())
            };
            let ok = self.note("webhook schedule", &claimed, &mut failing);
            let claimed = claimed.unwrap_or_default();
            let idle = claimed.is_empty();
            for delivery in claimed {
                running.spawn(self.clone().attempt(delivery));
            }
            if !idle {
                continue;
            }
            let pause = if ok { POLL } else { STORE_RETRY };
            tokio::select! {
                _ = shutdown.cancelled() => {
                    // Attempts in flight are dropped; their leases run out and
                    // another instance (or the next start) makes them again.
                    running.abort_all();
                    return;
                }
                _ = wake.notified() => {}
                Some(_) = running.join_next() => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// One attempt of one leased delivery, then its settlement.
    async fn attempt(self, delivery: Delivery) {
        let endpoints = self.webhooks.current();
        let Some(endpoint) = endpoints.find(&delivery.url) else {
            // The endpoint left the webhooks file: nobody to deliver to.
            self.metrics.webhook_delivery("dropped", 1);
            self.settle(&delivery, None).await;
            return;
        };
        let timestamp = self.clock.now().0 / 1000;
        let result = self
            .sender
            .send(endpoint, &delivery.message_id, timestamp, &delivery.body)
            .await;
        self.metrics.webhook_delivery(result.label(), 1);
        let next = match result {
            Attempt::Delivered => None,
            failed => {
                let failures = delivery.failures + 1;
                let due =
                    self.schedule
                        .next_attempt(failures, delivery.born, self.clock.now(), jitter());
                if due.is_none() {
                    self.metrics.webhook_delivery("given_up", 1);
                    tracing::warn!(
                        webhook_id = %delivery.message_id,
                        url = %delivery.url,
                        failures,
                        "webhook given up after retrying past the schedule's end"
                    );
                } else if failures == 1 {
                    tracing::info!(
                        webhook_id = %delivery.message_id,
                        url = %delivery.url,
                        result = failed.label(),
                        "webhook delivery failed; retrying"
                    );
                }
                due
            }
        };
        self.settle(&delivery, next).await;
    }

    async fn settle(&self, delivery: &Delivery, next: Option<Millis>) {
        if let Err(e) = self.outbox.settle(delivery, next).await {
            // The lease runs out and the attempt is made again: at least once.
            tracing::warn!(error = ?e, webhook_id = %delivery.message_id, "cannot settle a webhook attempt; it will be retried");
        }
    }

    async fn backlog(self, shutdown: CancellationToken) {
        let mut failing = false;
        loop {
            let read = self.outbox.backlog().await;
            if self.note("webhook backlog", &read, &mut failing) {
                let backlog = read.unwrap_or_default();
                let age = backlog
                    .oldest
                    .map_or(0, |oldest| self.clock.now().since(oldest));
                self.metrics.webhook_backlog(
                    backlog.scheduled,
                    backlog.unread,
                    self.audit_cap,
                    Duration::from_millis(age),
                );
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(BACKLOG_EVERY) => {}
            }
        }
    }

    /// Logs a store failure once when it starts and once when it ends;
    /// true when `result` is fine.
    fn note<T>(&self, what: &str, result: &Result<T, StoreError>, failing: &mut bool) -> bool {
        match result {
            Ok(_) => {
                if std::mem::take(failing) {
                    tracing::info!("{what}: the store answers again");
                }
                true
            }
            Err(e) => {
                if !std::mem::replace(failing, true) {
                    tracing::warn!(error = ?e, "{what}: store call failed; retrying");
                }
                false
            }
        }
    }
}

/// A number in [0, 1) that spreads retries; a failed RNG only removes the spread.
fn jitter() -> f64 {
    let mut raw = [0u8; 4];
    match getrandom::fill(&mut raw) {
        Ok(()) => f64::from(u32::from_le_bytes(raw)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.0,
    }
}
