//! The embedded store's webhook outbox: a bounded in-process schedule fed
//! from the memory audit log.
//!
//! One instance, so no sharing: `next_events` reads the log past the last
//! entry it handed out, and the schedule is a map under a short lock, never
//! held across an await. Both are lost on restart, as the sessions are.
//! Bounded: past `capacity` scheduled deliveries, new ones are dropped and
//! counted rather than growing without limit while a receiver is down.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;

use super::outbox::{Backlog, Delivery, OutboxEvent, WebhookOutbox};
use super::StoreError;
use crate::domain::{AuditEntry, AuditId, Millis};

/// Deliveries the schedule holds at most by default.
pub const MEMORY_OUTBOX_CAPACITY: usize = 10_000;

/// Where the memory outbox reads events: the memory audit log.
pub trait EventFeed: Send + Sync + 'static {
    /// Entries after `after` (`None`: from the oldest kept), oldest first,
    /// at most `max`, and how many entries after `after` there are in all.
    fn entries_after(&self, after: Option<AuditId>, max: usize) -> FeedPage;
    /// Resolves when an entry is appended after this call.
    fn appended(&self) -> tokio::sync::futures::Notified<'_>;
}

/// One read of an `EventFeed`.
#[derive(Debug, Default)]
pub struct FeedPage {
    pub entries: Vec<AuditEntry>,
    /// Entries after the cursor, read now or not (for the backlog).
    pub after: u64,
}

#[derive(Default)]
struct Schedule {
    /// Due time, key: the order deliveries are taken in.
    due: BTreeSet<(Millis, String)>,
    /// Key -> the delivery and its current due time (its lease while held).
    entries: HashMap<String, (Delivery, Millis)>,
}

/// The bounded in-process outbox.
pub struct MemoryOutbox {
    feed: Arc<dyn EventFeed>,
    /// The last log entry `next_events` went past.
    cursor: Mutex<Option<AuditId>>,
    schedule: Mutex<Schedule>,
    capacity: usize,
}

impl MemoryOutbox {
    pub fn new(feed: Arc<dyn EventFeed>, capacity: usize) -> Self {
        MemoryOutbox {
            feed,
            cursor: Mutex::new(None),
            schedule: Mutex::new(Schedule::default()),
            capacity,
        }
    }
}

#[async_trait]
impl WebhookOutbox for MemoryOutbox {
    async fn next_events(
        &self,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        // Waiting on `appended` is armed before the read, so an entry
        // appended in between still wakes us.
        let appended = self.feed.appended();
        let mut page = self.feed.entries_after(*self.cursor.lock(), max);
        if page.entries.is_empty() {
            let _ = tokio::time::timeout(wait, appended).await;
            page = self.feed.entries_after(*self.cursor.lock(), max);
        }
        if let Some(last) = page.entries.last() {
            *self.cursor.lock() = Some(last.id);
        }
        Ok(page
            .entries
            .iter()
            .filter_map(OutboxEvent::from_audit)
            .collect())
    }

    async fn enqueue(
        &self,
        deliveries: Vec<Delivery>,
        _handled: &[String],
        due: Millis,
    ) -> Result<usize, StoreError> {
        let mut s = self.schedule.lock();
        let mut dropped = 0;
        for d in deliveries {
            let key = d.key();
            if s.entries.contains_key(&key) {
                continue;
            }
            if s.entries.len() >= self.capacity {
                dropped += 1;
                continue;
            }
            s.due.insert((due, key.clone()));
            s.entries.insert(key, (d, due));
        }
        Ok(dropped)
    }

    async fn claim_due(
        &self,
        now: Millis,
        lease_until: Millis,
        max: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut s = self.schedule.lock();
        let taken: Vec<(Millis, String)> = s
            .due
            .iter()
            .take_while(|(due, _)| *due <= now)
            .take(max)
            .cloned()
            .collect();
        let mut out = Vec::with_capacity(taken.len());
        for (due, key) in taken {
            s.due.remove(&(due, key.clone()));
            s.due.insert((lease_until, key.clone()));
            if let Some((d, at)) = s.entries.get_mut(&key) {
                *at = lease_until;
                let mut d = d.clone();
                d.lease = lease_until;
                out.push(d);
            }
        }
        Ok(out)
    }

    async fn settle(&self, delivery: &Delivery, next: Option<Millis>) -> Result<(), StoreError> {
        let key = delivery.key();
        let mut s = self.schedule.lock();
        let held = s
            .entries
            .get(&key)
            .is_some_and(|(_, at)| *at == delivery.lease);
        if !held {
            return Ok(());
        }
        s.due.remove(&(delivery.lease, key.clone()));
        match next {
            None => {
                s.entries.remove(&key);
            }
            Some(due) => {
                s.due.insert((due, key.clone()));
                if let Some((d, at)) = s.entries.get_mut(&key) {
                    d.failures = delivery.failures + 1;
                    *at = due;
                }
            }
        }
        Ok(())
    }

    async fn backlog(&self) -> Result<Backlog, StoreError> {
        let unread = self.feed.entries_after(*self.cursor.lock(), 0).after;
        let s = self.schedule.lock();
        Ok(Backlog {
            scheduled: s.entries.len() as u64,
            unread,
            oldest: s.entries.values().map(|(d, _)| d.born).min(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoFeed(tokio::sync::Notify);

    impl EventFeed for NoFeed {
        fn entries_after(&self, _after: Option<AuditId>, _max: usize) -> FeedPage {
            FeedPage::default()
        }
        fn appended(&self) -> tokio::sync::futures::Notified<'_> {
            self.0.notified()
        }
    }

    fn delivery(id: &str) -> Delivery {
        Delivery {
            message_id: id.to_owned(),
            url: "http://r.example/h".to_owned(),
            body: "{}".to_owned(),
            born: Millis(10),
            failures: 0,
            lease: Millis(0),
        }
    }

    fn outbox(capacity: usize) -> MemoryOutbox {
        MemoryOutbox::new(Arc::new(NoFeed(tokio::sync::Notify::new())), capacity)
    }

    #[tokio::test]
    async fn a_lease_keeps_a_delivery_from_everyone_else_until_it_runs_out() {
        let o = outbox(10);
        let dropped = o
            .enqueue(vec![delivery("msg_1"), delivery("msg_1")], &[], Millis(100))
            .await
            .unwrap();
        assert_eq!(dropped, 0);
        assert!(o
            .claim_due(Millis(99), Millis(200), 10)
            .await
            .unwrap()
            .is_empty());
        let held = o.claim_due(Millis(100), Millis(200), 10).await.unwrap();
        assert_eq!(held.len(), 1, "scheduled once");
        assert!(o
            .claim_due(Millis(150), Millis(250), 10)
            .await
            .unwrap()
            .is_empty());
        // The holder died: at its lease's end another takes it.
        let second = o.claim_due(Millis(200), Millis(300), 10).await.unwrap();
        assert_eq!(second.len(), 1);
        // The first holder's late settlement changes nothing.
        o.settle(&held[0], None).await.unwrap();
        assert_eq!(o.backlog().await.unwrap().scheduled, 1);
        o.settle(&second[0], Some(Millis(400))).await.unwrap();
        let retry = o.claim_due(Millis(400), Millis(500), 10).await.unwrap();
        assert_eq!(retry[0].failures, 1);
        o.settle(&retry[0], None).await.unwrap();
        let backlog = o.backlog().await.unwrap();
        assert_eq!((backlog.scheduled, backlog.oldest), (0, None));
    }

    #[tokio::test]
    async fn a_full_schedule_drops_new_deliveries() {
        let o = outbox(2);
        let all = vec![delivery("msg_1"), delivery("msg_2"), delivery("msg_3")];
        assert_eq!(o.enqueue(all, &[], Millis(0)).await.unwrap(), 1);
        let backlog = o.backlog().await.unwrap();
        assert_eq!(backlog.scheduled, 2);
        assert_eq!(backlog.oldest, Some(Millis(10)));
    }
}
