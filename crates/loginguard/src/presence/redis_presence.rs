//! `RedisPresence`: every instance publishes its socket counts to Redis and
//! reads the others'.
//!
//! Each instance owns one hash (`keys::presence`: session id -> sockets here)
//! and a heartbeat in the instance index. A loop diffs the hub's counts
//! against what it last wrote every `interval` and writes only the changes,
//! rewriting everything now and then (and after any failure) so a restarted
//! Redis heals. Readers sum the hashes of instances whose heartbeat is fresh,
//! so a killed instance stops counting within a few intervals.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::{LocalSockets, Presence};
use crate::domain::{Clock, SessionId, Username};
use crate::store::redis::{KeySpace, RedisConn};

/// A full rewrite happens at least this many intervals apart.
const FULL_EVERY: u32 = 15;
/// An instance whose heartbeat is older than this many intervals is ignored.
const STALE_AFTER: u32 = 5;

/// Built by `startup` with a struct literal: every field is a plain input.
pub struct RedisPresence {
    pub conn: RedisConn,
    pub keys: KeySpace,
    /// This instance's id (random per start).
    pub instance: String,
    /// Where this instance's own counts come from (the hub).
    pub hub: Arc<dyn LocalSockets>,
    pub clock: Arc<dyn Clock>,
    /// How often counts and the heartbeat are published.
    pub interval: Duration,
}

impl RedisPresence {
    /// Publishes this instance's counts until shutdown, then removes them.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut written: HashMap<SessionId, usize> = HashMap::new();
        let mut full_due = 0u32;
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            let now = self.hub.session_counts();
            let full = full_due == 0;
            match self.write(&written, &now, full).await {
                Ok(()) => {
                    written = now;
                    full_due = if full { FULL_EVERY } else { full_due - 1 };
                }
                // Unknown state in Redis: rewrite everything next time.
                Err(_) => full_due = 0,
            }
        }
        // Two commands: the keys live in different slots on a cluster.
        let mut conn = self.conn.clone();
        let _: redis::RedisResult<()> = redis::cmd("DEL")
            .arg(self.keys.presence(&self.instance))
            .query_async(&mut conn)
            .await;
        let _: redis::RedisResult<()> = redis::cmd("ZREM")
            .arg(self.keys.instances())
            .arg(&self.instance)
            .query_async(&mut conn)
            .await;
    }

    async fn write(
        &self,
        before: &HashMap<SessionId, usize>,
        now: &HashMap<SessionId, usize>,
        full: bool,
    ) -> redis::RedisResult<()> {
        let key = self.keys.presence(&self.instance);
        let ttl_ms = (self.interval * STALE_AFTER * 2).as_millis() as i64;
        let mut pipe = redis::pipe();
        pipe.atomic();
        if full {
            pipe.del(&key);
        }
        let changed: Vec<(&str, usize)> = now
            .iter()
            .filter(|(id, n)| full || before.get(*id) != Some(n))
            .map(|(id, n)| (id.as_str(), *n))
            .collect();
        if !changed.is_empty() {
            pipe.hset_multiple(&key, &changed);
        }
        let gone: Vec<&str> = if full {
            Vec::new()
        } else {
            before
                .keys()
                .filter(|id| !now.contains_key(*id))
                .map(SessionId::as_str)
                .collect()
        };
        if !gone.is_empty() {
            pipe.hdel(&key, gone);
        }
        pipe.pexpire(&key, ttl_ms);
        let mut conn = self.conn.clone();
        pipe.query_async::<()>(&mut conn).await?;
        redis::cmd("ZADD")
            .arg(self.keys.instances())
            .arg(self.clock.now().0)
            .arg(&self.instance)
            .query_async::<()>(&mut conn)
            .await?;
        // Instances that died without saying goodbye (SIGKILL) leave the index
        // once their heartbeat is long stale; their hashes expire by themselves.
        redis::cmd("ZREMRANGEBYSCORE")
            .arg(self.keys.instances())
            .arg("-inf")
            .arg(
                self.stale_before()
                    .saturating_sub((self.interval * STALE_AFTER).as_millis() as u64),
            )
            .query_async::<()>(&mut conn)
            .await
    }

    /// Heartbeats older than this (ms) are not counted.
    fn stale_before(&self) -> u64 {
        self.clock
            .now()
            .0
            .saturating_sub((self.interval * STALE_AFTER).as_millis() as u64)
    }

    /// Other live instances' ids.
    async fn peers(&self, conn: &mut RedisConn) -> redis::RedisResult<Vec<String>> {
        let ids: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(self.keys.instances())
            .arg(self.stale_before())
            .arg("+inf")
            .query_async(conn)
            .await?;
        Ok(ids.into_iter().filter(|id| id != &self.instance).collect())
    }

    async fn remote(&self, sessions: &[(Username, SessionId)]) -> redis::RedisResult<Vec<usize>> {
        let mut conn = self.conn.clone();
        let mut totals = vec![0usize; sessions.len()];
        let ids: Vec<&str> = sessions.iter().map(|(_, id)| id.as_str()).collect();
        for peer in self.peers(&mut conn).await? {
            let counts: Vec<Option<usize>> = redis::cmd("HMGET")
                .arg(self.keys.presence(&peer))
                .arg(&ids)
                .query_async(&mut conn)
                .await?;
            for (total, n) in totals.iter_mut().zip(counts) {
                *total += n.unwrap_or(0);
            }
        }
        Ok(totals)
    }
}

#[async_trait]
impl Presence for RedisPresence {
    async fn connections(&self, sessions: &[(Username, SessionId)]) -> Vec<usize> {
        let local = self.hub.connections_of(sessions);
        if sessions.is_empty() {
            return local;
        }
        match self.remote(sessions).await {
            Ok(remote) => local.iter().zip(remote).map(|(a, b)| a + b).collect(),
            Err(e) => {
                tracing::debug!(error = %e, "presence: other instances' counts unavailable");
                local
            }
        }
    }
}
