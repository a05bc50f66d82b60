//! One connection type over standalone Redis, Redis Cluster and Sentinel.
//!
//! `RedisConn` is what the store's scripts run on: a multiplexed
//! `ConnectionManager` (standalone), a `ClusterConnection` that routes each
//! script to the node owning its account's hash slot, or a `SentinelConn`
//! that follows the master across failovers. All reconnect by themselves and
//! are created without waiting for Redis, so a store that is down at start-up
//! is not fatal. Nothing else in the store knows which it is. A call
//! unanswered within `--redis-timeout` fails though Redis may still run it
//! (scripts answer re-runs alike).

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo};
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, ServerError, Value};

use super::{RedisTls, SentinelConn};

pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// The Sentinel connection's reply timeout (it does not take `--redis-timeout` yet).
pub(super) const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Standalone, cluster or Sentinel; cheap to clone (all are multiplexed handles).
#[derive(Clone)]
pub enum RedisConn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
    Sentinel(SentinelConn),
}

impl RedisConn {
    /// A lazily connecting handle to one Redis server; a call fails when its
    /// reply takes longer than `timeout`.
    pub fn single(url: &str, tls: &RedisTls, timeout: Duration) -> RedisResult<Self> {
        let client = tls.client(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(20))
            .set_max_delay(Duration::from_millis(500));
        Ok(RedisConn::Single(ConnectionManager::new_lazy_with_config(
            client, config,
        )?))
    }

    /// A lazily connecting handle to a cluster seeded by `nodes`; a call
    /// (with the client's own retries) fails after `timeout`.
    pub fn cluster(nodes: &[&str], tls: &RedisTls, timeout: Duration) -> RedisResult<Self> {
        let mut builder = ClusterClient::builder(nodes.iter().copied())
            .connection_timeout(CONNECT_TIMEOUT)
            .response_timeout(timeout)
            .retries(2);
        if let Some(certs) = tls.certificates_for(nodes.first().copied().unwrap_or_default())? {
            builder = builder.certs(certs);
        }
        let client = builder.build()?;
        let config = ClusterConfig::new()
            .set_connection_timeout(CONNECT_TIMEOUT)
            .set_response_timeout(timeout);
        Ok(RedisConn::Cluster(
            client.get_pending_async_connection_with_config(config),
        ))
    }

    /// Runs `cmd` on the server, or on every master of a cluster: each
    /// node's own reply, a refusal (`Value::ServerError`) included, named by
    /// its address. Fails only when a node cannot be reached.
    pub async fn on_every_master(&mut self, cmd: &Cmd) -> RedisResult<Vec<(String, Value)>> {
        if let RedisConn::Cluster(c) = self {
            let every = RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
            return match c.route_command(cmd.clone(), every).await? {
                Value::Map(replies) => replies
                    .into_iter()
                    .map(|(node, reply)| Ok((redis::from_redis_value(node)?, reply)))
                    .collect(),
                other => Err(redis::ParsingError::from(format!(
                    "a per-node reply was expected, got {other:?}"
                ))
                .into()),
            };
        }
        // One master: the standalone server, or Sentinel's current master.
        let reply = match cmd.query_async::<Value>(self).await {
            Ok(value) => value,
            Err(e) => Value::ServerError(ServerError::try_from(e)?),
        };
        Ok(vec![("redis".to_owned(), reply)])
    }
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            RedisConn::Single(c) => c.req_packed_command(cmd),
            RedisConn::Cluster(c) => c.req_packed_command(cmd),
            RedisConn::Sentinel(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            RedisConn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            RedisConn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
            RedisConn::Sentinel(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            RedisConn::Single(c) => c.get_db(),
            RedisConn::Cluster(c) => c.get_db(),
            RedisConn::Sentinel(c) => c.get_db(),
        }
    }
}
