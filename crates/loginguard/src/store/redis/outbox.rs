//! The Redis webhook outbox: a consumer group on the audit stream, shared by
//! every instance, and a durable retry schedule beside it.
//!
//! Each instance reads new audit entries as its own consumer of the group
//! `webhooks` (`XREADGROUP`), so an entry goes to one instance; entries an
//! instance read and never acked (it died) are taken over with `XAUTOCLAIM`.
//! Reading only moves entries into the schedule (`<p>:{webhooks}:*`, one
//! slot), then acks them, so nothing waits in the capped stream for a slow
//! receiver: only entries no instance has read yet can be trimmed away.
//! Deliveries are taken from the schedule under a lease in one Lua step
//! (`webhook_claim.lua`); a lease that runs out makes it due for anyone.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;

use super::super::outbox::{Backlog, Delivery, OutboxEvent, WebhookOutbox};
use super::super::StoreError;
use super::keys::{KeySpace, WebhookKeys};
use super::scripts::{WEBHOOK_CLAIM, WEBHOOK_ENQUEUE, WEBHOOK_SETTLE};
use super::{audit, classify, RedisConn};
use crate::domain::{AuditId, Millis};

/// The consumer group every instance reads the audit stream in.
const GROUP: &str = "webhooks";
/// An entry read by an instance and not acked for this long is taken over:
/// scheduling it takes one script call, so only a dead instance is that slow.
const CLAIM_IDLE: Duration = Duration::from_secs(30);
/// How often dead instances' entries are looked for.
const CLAIM_EVERY: Duration = Duration::from_secs(5);
/// How long an empty read waits before the next one (no `BLOCK`: it would
/// hold the multiplexed connection every other call shares). It bounds the
/// delay a webhook waits on Redis (`loadgen webhook-delay`: p50 ~100 ms at
/// 200 ms); 20 ms costs one XREADGROUP per 20 ms per idle instance.
const POLL: Duration = Duration::from_millis(20);

/// What `XREADGROUP` answers: per stream, its entries (none: nothing new).
type GroupRead = Option<Vec<(String, Vec<audit::Raw>)>>;

/// One instance's view of the shared outbox.
pub struct RedisOutbox {
    conn: RedisConn,
    stream: String,
    keys: WebhookKeys,
    /// This instance's consumer name in the group.
    consumer: String,
    group_ready: AtomicBool,
    last_claim: Mutex<Option<std::time::Instant>>,
}

impl RedisOutbox {
    pub fn new(conn: RedisConn, keys: &KeySpace, instance: &str) -> Self {
        RedisOutbox {
            conn,
            stream: keys.audit_stream(),
            keys: keys.webhooks(),
            consumer: instance.to_owned(),
            group_ready: AtomicBool::new(false),
            last_claim: Mutex::new(None),
        }
    }

    /// Creates the group at the stream's end the first time (entries older
    /// than the first instance with webhooks are not sent).
    async fn ensure_group(&self, conn: &mut RedisConn) -> Result<(), StoreError> {
        if self.group_ready.load(Ordering::Relaxed) {
            return Ok(());
        }
        let created: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&self.stream)
            .arg(GROUP)
            .arg("$")
            .arg("MKSTREAM")
            .query_async(conn)
            .await;
        match created {
            Ok(()) => {}
            Err(e) if e.code() == Some("BUSYGROUP") => {}
            Err(e) => return Err(classify(e)),
        }
        self.group_ready.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Entries dead instances left pending, when it is time to look.
    async fn claim_abandoned(
        &self,
        conn: &mut RedisConn,
        max: usize,
    ) -> Result<Vec<audit::Raw>, StoreError> {
        {
            let mut last = self.last_claim.lock();
            if last.is_some_and(|t| t.elapsed() < CLAIM_EVERY) {
                return Ok(Vec::new());
            }
            *last = Some(std::time::Instant::now());
        }
        let reply: redis::Value = redis::cmd("XAUTOCLAIM")
            .arg(&self.stream)
            .arg(GROUP)
            .arg(&self.consumer)
            .arg(CLAIM_IDLE.as_millis() as u64)
            .arg("0-0")
            .arg("COUNT")
            .arg(max)
            .query_async(conn)
            .await
            .map_err(classify)?;
        // [next cursor, entries, deleted ids]; only the entries matter.
        let redis::Value::Array(mut parts) = reply else {
            return Err(StoreError::corrupt("XAUTOCLAIM reply is not an array"));
        };
        if parts.len() < 2 {
            return Err(StoreError::corrupt("XAUTOCLAIM reply is too short"));
        }
        redis::from_redis_value(parts.swap_remove(1)).map_err(StoreError::corrupt)
    }

    async fn read_new(
        &self,
        conn: &mut RedisConn,
        max: usize,
    ) -> Result<Vec<audit::Raw>, StoreError> {
        let reply: redis::RedisResult<GroupRead> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(GROUP)
            .arg(&self.consumer)
            .arg("COUNT")
            .arg(max)
            .arg("STREAMS")
            .arg(&self.stream)
            .arg(">")
            .query_async(conn)
            .await;
        match reply {
            Ok(streams) => Ok(streams
                .unwrap_or_default()
                .into_iter()
                .flat_map(|(_, entries)| entries)
                .collect()),
            Err(e) if e.code() == Some("NOGROUP") => {
                // The stream was deleted (FLUSHALL, a new Redis): start over.
                self.group_ready.store(false, Ordering::Relaxed);
                Ok(Vec::new())
            }
            Err(e) => Err(classify(e)),
        }
    }

    async fn ack(&self, conn: &mut RedisConn, ids: &[String]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        redis::cmd("XACK")
            .arg(&self.stream)
            .arg(GROUP)
            .arg(ids)
            .query_async::<()>(conn)
            .await
            .map_err(classify)
    }

    /// Entries the group has not read, and the time of the oldest of them
    /// or of those read and not acked.
    async fn stream_backlog(
        &self,
        conn: &mut RedisConn,
    ) -> Result<(u64, Option<Millis>), StoreError> {
        let groups: Vec<HashMap<String, redis::Value>> = redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(&self.stream)
            .query_async(conn)
            .await
            .map_err(classify)?;
        let Some(group) = groups.into_iter().find(|g| {
            g.get("name").is_some_and(|n| {
                redis::from_redis_value::<String>(n.clone()).ok().as_deref() == Some(GROUP)
            })
        }) else {
            return Ok((0, None));
        };
        let number = |field: &str| {
            group
                .get(field)
                .and_then(|v| redis::from_redis_value::<Option<u64>>(v.clone()).ok())
                .flatten()
        };
        let pending = number("pending").unwrap_or(0);
        let last: String = group
            .get("last-delivered-id")
            .and_then(|v| redis::from_redis_value(v.clone()).ok())
            .unwrap_or_else(|| "0-0".to_owned());
        // `lag` is unknown after some trims and deletions: then every entry
        // in the stream may be unread.
        let lag = match number("lag") {
            Some(lag) => lag,
            None => redis::cmd("XLEN")
                .arg(&self.stream)
                .query_async(conn)
                .await
                .map_err(classify)?,
        };
        let mut oldest = None;
        if pending > 0 {
            let summary: (u64, Option<String>, Option<String>, redis::Value) =
                redis::cmd("XPENDING")
                    .arg(&self.stream)
                    .arg(GROUP)
                    .query_async(conn)
                    .await
                    .map_err(classify)?;
            oldest = summary.1.and_then(|id| id.parse::<AuditId>().ok());
        }
        if oldest.is_none() && lag > 0 {
            let next: Vec<audit::Raw> = redis::cmd("XRANGE")
                .arg(&self.stream)
                .arg(format!("({last}"))
                .arg("+")
                .arg("COUNT")
                .arg(1)
                .query_async(conn)
                .await
                .map_err(classify)?;
            oldest = next.first().and_then(|(id, _)| id.parse::<AuditId>().ok());
        }
        Ok((lag + pending, oldest.map(|id| Millis(id.ms))))
    }
}

#[async_trait]
impl WebhookOutbox for RedisOutbox {
    async fn next_events(
        &self,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        let mut conn = self.conn.clone();
        self.ensure_group(&mut conn).await?;
        let mut raw = self.claim_abandoned(&mut conn, max).await?;
        if raw.is_empty() {
            raw = self.read_new(&mut conn, max).await?;
        }
        if raw.is_empty() {
            tokio::time::sleep(POLL.min(wait)).await;
            return Ok(Vec::new());
        }
        let mut events = Vec::with_capacity(raw.len());
        let mut not_events = Vec::new();
        for r in raw {
            let id = r.0.clone();
            match OutboxEvent::from_audit(&audit::decode(r)?) {
                Some(event) => events.push(event),
                None => not_events.push(id),
            }
        }
        // Entries that are no webhook event (failed passwords) are done now.
        self.ack(&mut conn, &not_events).await?;
        Ok(events)
    }

    async fn enqueue(
        &self,
        deliveries: Vec<Delivery>,
        handled: &[String],
        due: Millis,
    ) -> Result<usize, StoreError> {
        let mut conn = self.conn.clone();
        if !deliveries.is_empty() {
            let mut call = WEBHOOK_ENQUEUE.prepare_invoke();
            call.key(&self.keys.due)
                .key(&self.keys.jobs)
                .key(&self.keys.born)
                .arg(due.0);
            for d in &deliveries {
                let json = serde_json::to_string(d).map_err(StoreError::corrupt)?;
                call.arg(d.key()).arg(json).arg(d.born.0);
            }
            call.invoke_async::<u64>(&mut conn)
                .await
                .map_err(classify)?;
        }
        self.ack(&mut conn, handled).await?;
        Ok(0)
    }

    async fn claim_due(
        &self,
        now: Millis,
        lease_until: Millis,
        max: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut conn = self.conn.clone();
        let jobs: Vec<String> = WEBHOOK_CLAIM
            .key(&self.keys.due)
            .key(&self.keys.jobs)
            .key(&self.keys.born)
            .arg(now.0)
            .arg(lease_until.0)
            .arg(max)
            .invoke_async(&mut conn)
            .await
            .map_err(classify)?;
        jobs.iter()
            .map(|json| {
                let mut d: Delivery = serde_json::from_str(json).map_err(StoreError::corrupt)?;
                d.lease = lease_until;
                Ok(d)
            })
            .collect()
    }

    async fn settle(&self, delivery: &Delivery, next: Option<Millis>) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let kept = Delivery {
            failures: delivery.failures + 1,
            ..delivery.clone()
        };
        let json = serde_json::to_string(&kept).map_err(StoreError::corrupt)?;
        WEBHOOK_SETTLE
            .key(&self.keys.due)
            .key(&self.keys.jobs)
            .key(&self.keys.born)
            .arg(delivery.key())
            .arg(delivery.lease.0)
            .arg(next.map_or_else(String::new, |due| due.0.to_string()))
            .arg(json)
            .invoke_async::<u64>(&mut conn)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn backlog(&self) -> Result<Backlog, StoreError> {
        let mut conn = self.conn.clone();
        let scheduled: u64 = redis::cmd("HLEN")
            .arg(&self.keys.jobs)
            .query_async(&mut conn)
            .await
            .map_err(classify)?;
        let born: Vec<(String, u64)> = redis::cmd("ZRANGE")
            .arg(&self.keys.born)
            .arg(0)
            .arg(0)
            .arg("WITHSCORES")
            .query_async(&mut conn)
            .await
            .map_err(classify)?;
        let (unread, oldest_unread) = match self.stream_backlog(&mut conn).await {
            Ok(found) => found,
            // No stream or group yet: nothing unread.
            Err(StoreError::Corrupt(_)) => (0, None),
            Err(e) => return Err(e),
        };
        let oldest = born
            .first()
            .map(|(_, at)| Millis(*at))
            .into_iter()
            .chain(oldest_unread)
            .min();
        Ok(Backlog {
            scheduled,
            unread,
            oldest,
        })
    }
}
