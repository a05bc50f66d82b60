//! `RedisBus`: hears the events that the Redis scripts `PUBLISH`.
//!
//! One task per instance holds a dedicated pub/sub connection, decodes each
//! message and hands it to the handler. Pub/sub is at-most-once, so whenever
//! the subscription is (re)established the handler's `on_resync` runs and the
//! instance revalidates its sockets against the store (invariant 4). A ping
//! every few seconds notices a connection that died without a reset, and the
//! `SubscribeTarget` says when the node is no longer the one to listen on (a
//! Sentinel failover moves it). State changes are logged once, not on every
//! retry.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use super::{BusHealth, EventHandler, StoreEvent};

/// How often the idle subscription is pinged to prove it is still alive.
const PING_EVERY: Duration = Duration::from_secs(3);
const PING_TIMEOUT: Duration = Duration::from_secs(2);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// Where the subscription goes.
#[async_trait]
pub trait SubscribeTarget: Send + Sync + 'static {
    /// The node for the `attempt`-th subscription since start.
    async fn node(&self, attempt: usize) -> redis::RedisResult<redis::Client>;

    /// Resolves when the node handed out last is no longer the one to
    /// listen on (a Sentinel failover); the bus then resubscribes, which
    /// rechecks sockets. Fixed nodes never move.
    async fn moved(&self) {
        std::future::pending().await
    }
}

/// Standalone and Cluster: the nodes in turn. Any node of a cluster hears a
/// classic `PUBLISH`, so they never need to move.
#[async_trait]
impl SubscribeTarget for Vec<redis::Client> {
    async fn node(&self, attempt: usize) -> redis::RedisResult<redis::Client> {
        Ok(self[attempt % self.len()].clone())
    }
}

/// Subscribes to the store's event channel on the node its target names.
pub struct RedisBus {
    target: Box<dyn SubscribeTarget>,
    channel: String,
    health: Arc<BusHealth>,
}

impl RedisBus {
    /// `health` is set while the subscription is live.
    pub fn new(target: impl SubscribeTarget, channel: String, health: Arc<BusHealth>) -> Self {
        RedisBus {
            target: Box::new(target),
            channel,
            health,
        }
    }

    /// Runs until `shutdown` fires, reconnecting with capped exponential backoff.
    pub async fn run(self, handler: Arc<dyn EventHandler>, shutdown: CancellationToken) {
        let mut backoff = BACKOFF_MIN;
        let mut healthy = true;
        let mut attempt = 0usize;
        while !shutdown.is_cancelled() {
            attempt += 1;
            match self.subscribe(attempt - 1).await {
                Ok(pubsub) => {
                    if !healthy {
                        tracing::info!(channel = %self.channel, "event subscription restored; revalidating open sockets");
                    }
                    healthy = true;
                    self.health.set(true);
                    backoff = BACKOFF_MIN;
                    // Anything published while we were away is lost: check the store.
                    handler.on_resync();
                    let stopped = self.pump(pubsub, &*handler, &shutdown).await;
                    self.health.set(false);
                    if stopped {
                        return;
                    }
                    tracing::warn!(channel = %self.channel, "event subscription lost; reconnecting");
                }
                Err(e) => {
                    if healthy {
                        tracing::warn!(error = %e, "cannot subscribe to store events; retrying with backoff");
                    }
                    healthy = false;
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(jitter(backoff)) => {}
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    async fn subscribe(&self, attempt: usize) -> redis::RedisResult<redis::aio::PubSub> {
        let client = self.target.node(attempt).await?;
        let connect = async {
            let mut ps = client.get_async_pubsub().await?;
            ps.subscribe(&self.channel).await?;
            Ok(ps)
        };
        tokio::time::timeout(CONNECT_TIMEOUT, connect)
            .await
            .unwrap_or_else(|_| Err((redis::ErrorKind::Io, "subscribe timed out").into()))
    }

    /// Delivers messages until the connection fails (returns false) or
    /// shutdown (returns true).
    async fn pump(
        &self,
        pubsub: redis::aio::PubSub,
        handler: &dyn EventHandler,
        shutdown: &CancellationToken,
    ) -> bool {
        let (mut sink, mut stream) = pubsub.split();
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.tick().await;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return true,
                _ = self.target.moved() => return false,
                msg = stream.next() => {
                    let Some(msg) = msg else { return false };
                    let payload: Vec<u8> = msg.get_payload_bytes().to_vec();
                    match serde_json::from_slice::<StoreEvent>(&payload) {
                        Ok(event) => handler.on_event(event),
                        Err(e) => tracing::error!(error = %e, "undecodable store event ignored"),
                    }
                }
                _ = ping.tick() => {
                    let alive = tokio::time::timeout(PING_TIMEOUT, sink.ping::<redis::Value>()).await;
                    if !matches!(alive, Ok(Ok(_))) {
                        return false;
                    }
                }
            }
        }
    }
}

/// Between half and all of `d`, so instances do not reconnect in lockstep.
fn jitter(d: Duration) -> Duration {
    let mut b = [0u8; 2];
    let _ = getrandom::fill(&mut b);
    let frac = 0.5 + (u16::from_le_bytes(b) as f64 / u16::MAX as f64) / 2.0;
    d.mul_f64(frac)
}
