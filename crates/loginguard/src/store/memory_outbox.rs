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
use crate::domain::Millis;

/// Deliveries the schedule holds at most by default.
pub const MEMORY_OUTBOX_CAPACITY: usize = 10_000;

/// Where the memory outbox reads events: the memory audit log.
pub trait EventFeed: Send + Sync + 'static {
    /// Events after `cursor` (`None`: from the oldest kept), at most `max`,
    /// with the cursor to pass next time and how many entries the log's cap
    /// dropped before they were read.
    fn events_after(&self, cursor: Option<u64>, max: usize) -> FeedPage;
    /// Resolves when an entry is added after this call began (or at once
    /// if one may have been missed).
    fn changed(&self) -> tokio::sync::futures::Notified<'_>;
}

/// One read of an `EventFeed`.
#[derive(Debug, Default)]
pub struct FeedPage {
    pub events: Vec<OutboxEvent>,
    pub cursor: Option<u64>,
    /// Entries after the cursor not yet read (for the backlog).
    pub unread: u64,
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
    /// The log position of the last event handed out by `next_events`.
    cursor: Mutex<Option<u64>>,
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
        let page = {
            // Subscribing before reading: an entry added in between wakes us.
            let changed = self.feed.changed();
            let page = self.feed.events_after(*self.cursor.lock(), max);
            if page.events.is_empty() {
                let _ = tokio::time::timeout(wait, changed).await;
                self.feed.events_after(*self.cursor.lock(), max)
            } else {
                page
            }
        };
        if page.cursor.is_some() {
            *self.cursor.lock() = page.cursor;
        }
        Ok(page.events)
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
        let unread = self.feed.events_after(*self.cursor.lock(), 0).unread;
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
        fn events_after(&self, cursor: Option<u64>, _max: usize) -> FeedPage {
            FeedPage {
                cursor,
                ..FeedPage::default()
            }
        }
        fn changed(&self) -> tokio::sync::futures::Notified<'_> {
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
