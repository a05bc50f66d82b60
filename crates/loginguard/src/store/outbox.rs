//! The webhook outbox: the audit trail's events handed to one instance each,
//! and the durable schedule of deliveries still to make.
//!
//! `app::webhooks::Dispatcher` is the only caller. It reads new events
//! (`next_events`), turns each into one delivery per subscribed endpoint and
//! schedules them while marking the events handled (`enqueue`), then takes
//! due deliveries under a lease (`claim_due`) and settles each attempt
//! (`settle`). A lease that runs out (its instance died mid-attempt) makes
//! the delivery due again for any instance, so nothing waits on a dead one.
//! The Redis outbox keeps all of it in Redis (survives restarts, shared by
//! the instances); the memory one in this process, bounded.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::domain::{AuditEntry, Millis, WebhookBody, WebhookData, WebhookEvent};

/// One audit entry that is a webhook event.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxEvent {
    /// Unique and stable for this event: the `webhook-id` of every delivery
    /// of it, on every retry and every instance.
    pub message_id: String,
    /// Where the outbox tracks it (a stream entry id): what `enqueue` acks.
    pub cursor: String,
    pub at: Millis,
    pub body: WebhookBody,
}

impl OutboxEvent {
    /// The webhook event an audit entry is, if it is one (a failed password
    /// is not). Both outboxes read their entries through this one mapping.
    pub fn from_audit(entry: &AuditEntry) -> Option<OutboxEvent> {
        let r = &entry.record;
        let event = WebhookEvent::of_audit_type(r.kind.as_str())?;
        let by = r.by.as_ref().map_or(serde_json::Value::Null, |a| {
            serde_json::json!({"device": a.device.as_str(), "ip": a.ip, "at": a.at.to_rfc3339()})
        });
        Some(OutboxEvent {
            message_id: format!("msg_{}", entry.id),
            cursor: entry.id.to_string(),
            at: r.at,
            body: WebhookBody {
                event,
                timestamp: r.at.to_rfc3339(),
                data: WebhookData {
                    session_id: r.session_id.as_ref().map(|s| s.as_str().to_owned()),
                    username: Some(r.username.as_str().to_owned()),
                    device: r.device.as_ref().map(|d| d.as_str().to_owned()),
                    device_class: r.device_class.as_ref().map(|c| c.as_str().to_owned()),
                    ip: r.ip.clone(),
                    reason: r.reason.map(|x| x.as_str().to_owned()),
                    by,
                },
            },
        })
    }

    pub fn event(&self) -> WebhookEvent {
        self.body.event
    }
}

/// One event for one endpoint, as scheduled.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub message_id: String,
    /// The endpoint; its secret is looked up at each attempt, so a rotated
    /// secret applies to retries too.
    pub url: String,
    /// The signed body, the same bytes on every attempt.
    pub body: String,
    /// When the event happened: retries stop a while after it.
    pub born: Millis,
    /// Failed attempts so far.
    pub failures: u32,
    /// Set by `claim_due`: the lease this holder must present to `settle`.
    #[serde(skip)]
    pub lease: Millis,
}

impl Delivery {
    /// Its key in the schedule: one per event and endpoint, so scheduling
    /// the same event twice (after a redelivery) adds nothing.
    pub fn key(&self) -> String {
        format!("{} {}", self.message_id, self.url)
    }
}

/// How much is waiting, for the metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Deliveries in the schedule (due, leased or waiting for a retry).
    pub scheduled: u64,
    /// Audit entries no instance has read yet: the ones the audit cap could
    /// still drop before they are scheduled.
    pub unread: u64,
    /// The oldest event not yet delivered (read or not).
    pub oldest: Option<Millis>,
}

/// The outbox of one store backend. Every method is safe to call again
/// after a failure: scheduling is idempotent by `Delivery::key`, and a lost
/// `settle` only means the lease runs out and the attempt is made again.
#[async_trait]
pub trait WebhookOutbox: Send + Sync + 'static {
    /// Waits up to `wait` (roughly) for events no instance has scheduled
    /// yet, including ones taken by an instance that died before it could.
    /// Each one comes back until `enqueue` names its cursor.
    async fn next_events(
        &self,
        max: usize,
        wait: std::time::Duration,
    ) -> Result<Vec<OutboxEvent>, StoreError>;

    /// Schedules `deliveries` due at `due`, then marks the events whose
    /// cursors are `handled` as scheduled. Returns how many deliveries were
    /// dropped because the schedule is full (memory only).
    async fn enqueue(
        &self,
        deliveries: Vec<Delivery>,
        handled: &[String],
        due: Millis,
    ) -> Result<usize, StoreError>;

    /// Takes up to `max` deliveries due at `now`, each leased until
    /// `lease_until`: no other caller gets it before then.
    async fn claim_due(
        &self,
        now: Millis,
        lease_until: Millis,
        max: usize,
    ) -> Result<Vec<Delivery>, StoreError>;

    /// Ends an attempt: `None` removes the delivery (delivered or given up),
    /// `Some(due)` keeps it for another attempt then, with its failures
    /// counted. Does nothing when the lease ran out (another holder has it).
    async fn settle(&self, delivery: &Delivery, next: Option<Millis>) -> Result<(), StoreError>;

    /// What is waiting now.
    async fn backlog(&self) -> Result<Backlog, StoreError>;
}
