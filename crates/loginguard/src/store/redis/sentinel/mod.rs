//! `SentinelConn`: commands go to whichever node the Sentinels name master now.
//!
//! A lookup asks a Sentinel for the master's address (`ask.rs`), connects
//! and checks the node's `ROLE`. Commands share one multiplexed connection
//! to that node until it fails, the node answers like a replica
//! (`READONLY`), or the watch, asking four times a second, hears the
//! Sentinels name another node; then the next command (or the watch itself)
//! looks the master up again. One lookup runs at a time, and for a moment
//! after a failed one commands fail at once instead of queueing.
//! `SentinelSubscription` moves the event bus to each new master. Used
//! through `RedisConn`; knows nothing of sessions.

mod ask;
mod build;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use parking_lot::Mutex;
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::{
    AsyncConnectionConfig, Client, Cmd, ConnectionAddr, ErrorKind, Pipeline, RedisError,
    RedisFuture, RedisResult, Role, ServerErrorKind, Value,
};
use tokio::sync::watch::{Receiver, Sender};

use super::conn::{CONNECT_TIMEOUT, RESPONSE_TIMEOUT};
use super::RedisTls;
use crate::events::SubscribeTarget;
use ask::SentinelAsker;
use build::MasterTemplate;

/// A whole lookup: Sentinels asked, master connected and its `ROLE` checked.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(3);
/// After a failed lookup, commands fail at once for this long.
const RETRY_AFTER: Duration = Duration::from_millis(100);
/// How often the watch asks the Sentinels. After a forced failover
/// (`SENTINEL FAILOVER`) nothing breaks the connections to the old master,
/// which keeps taking writes (lost when Sentinel converts it, ten seconds
/// later); only asking notices.
const WATCH_EVERY: Duration = Duration::from_millis(250);

/// Cheap to clone: every clone shares the master connection.
#[derive(Clone)]
pub struct SentinelConn {
    shared: Arc<Shared>,
}

struct Shared {
    /// Held for the length of a lookup (and of the watch's question), so
    /// only one runs at a time.
    asker: tokio::sync::Mutex<SentinelAsker>,
    master: MasterTemplate,
    state: Mutex<State>,
    /// Counts the master connections made; the event bus waits on it.
    generation: Sender<u64>,
}

#[derive(Default)]
struct State {
    current: Option<Master>,
    failed_at: Option<Instant>,
}

#[derive(Clone)]
struct Master {
    client: Client,
    conn: MultiplexedConnection,
    generation: u64,
}

impl SentinelConn {
    /// Follows the master `sentinels` name (see `build.rs` for what the
    /// two settings carry). Nothing connects until the first command; the
    /// watch starts at once. Needs a Tokio runtime.
    pub fn new(sentinels: &[&str], master: &str, tls: &RedisTls) -> RedisResult<Self> {
        let shared = Arc::new(Shared {
            asker: tokio::sync::Mutex::new(SentinelAsker::new(build::sentinels(sentinels, tls)?)),
            master: MasterTemplate::parse(master, sentinels, tls)?,
            state: Mutex::new(State::default()),
            generation: Sender::new(0),
        });
        tokio::spawn(watch(Arc::downgrade(&shared)));
        Ok(SentinelConn { shared })
    }

    /// The event bus's view of this master.
    pub fn subscription(&self) -> SentinelSubscription {
        SentinelSubscription {
            conn: self.clone(),
            handed_out: AtomicU64::new(0),
            changes: self.shared.generation.subscribe(),
        }
    }
}

/// Every `WATCH_EVERY`, asks which node the Sentinels name and moves there
/// when it is not the one in use. Ends once the `SentinelConn` is gone.
async fn watch(shared: Weak<Shared>) {
    let mut tick = tokio::time::interval(WATCH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let named = {
            let mut asker = shared.asker.lock().await;
            asker.named_master(&shared.master.name).await
        };
        if let Some(named) = named {
            shared.follow(named).await;
        }
    }
}

impl Shared {
    /// The master in use, looked up first when there is none.
    async fn master(&self) -> RedisResult<Master> {
        if let Some(m) = self.state.lock().current.clone() {
            return Ok(m);
        }
        let mut asker = self.asker.lock().await;
        {
            let state = self.state.lock();
            if let Some(m) = &state.current {
                return Ok(m.clone());
            }
            if state.failed_at.is_some_and(|t| t.elapsed() < RETRY_AFTER) {
                return Err((ErrorKind::Io, "no Redis master known yet").into());
            }
        }
        let found = tokio::time::timeout(LOOKUP_TIMEOUT, self.look_up(&mut asker))
            .await
            .unwrap_or_else(|_| Err((ErrorKind::Io, "asking the Sentinels timed out").into()));
        let mut state = self.state.lock();
        match found {
            Ok((client, conn)) => {
                tracing::info!(master = %client.get_connection_info().addr(), "using the Redis master the Sentinels name");
                self.generation.send_modify(|g| *g += 1);
                let m = Master {
                    client,
                    conn,
                    generation: *self.generation.borrow(),
                };
                state.current = Some(m.clone());
                state.failed_at = None;
                Ok(m)
            }
            Err(e) => {
                state.failed_at = Some(Instant::now());
                Err(e)
            }
        }
    }

    /// Asks the Sentinels in turn until one names a node that says it is
    /// master, and connects to it.
    async fn look_up(
        &self,
        asker: &mut SentinelAsker,
    ) -> RedisResult<(Client, MultiplexedConnection)> {
        let mut last: RedisError = (ErrorKind::Io, "no Sentinel named a master").into();
        for _ in 0..asker.len() {
            let Some(named) = asker.named_master(&self.master.name).await else {
                break;
            };
            let client = self.master.client(named)?;
            let checked = async {
                let mut conn = client
                    .get_multiplexed_async_connection_with_config(&connection_config())
                    .await?;
                let role: Role = redis::cmd("ROLE").query_async(&mut conn).await?;
                match role {
                    Role::Primary { .. } => Ok(conn),
                    _ => Err((ErrorKind::Io, "the node the Sentinel names is not master").into()),
                }
            };
            match checked.await {
                Ok(conn) => return Ok((client, conn)),
                Err(e) => {
                    last = e;
                    asker.skip();
                }
            }
        }
        Err(last)
    }

    /// Forgets master `generation` if `result` shows it is gone or demoted.
    fn observe<T>(&self, result: &RedisResult<T>, generation: u64) {
        if let Err(e) = result {
            if master_lost(e) {
                self.forget(generation);
            }
        }
    }

    fn forget(&self, generation: u64) {
        let mut state = self.state.lock();
        if state
            .current
            .as_ref()
            .is_some_and(|m| m.generation == generation)
        {
            state.current = None;
        }
    }

    /// The watch heard the Sentinels name `named`: leave the master in use
    /// if it is another node, and have a master connection either way, so
    /// the event bus follows even while no command runs.
    async fn follow(&self, named: (String, u16)) {
        let current = self.state.lock().current.clone();
        if let Some(m) = current {
            if same_node(m.client.get_connection_info().addr(), &named) {
                return;
            }
            tracing::warn!(master = %format!("{}:{}", named.0, named.1), "the Sentinels name another Redis master; moving to it");
            self.forget(m.generation);
        }
        // A failed lookup shows in the commands that need a master.
        let _ = self.master().await;
    }
}

/// The store's timeouts, for the connections made here.
fn connection_config() -> AsyncConnectionConfig {
    AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
}

fn same_node(addr: &ConnectionAddr, (host, port): &(String, u16)) -> bool {
    match addr {
        ConnectionAddr::Tcp(h, p)
        | ConnectionAddr::TcpTls {
            host: h, port: p, ..
        } => h == host && p == port,
        _ => false,
    }
}

/// Errors after which the node must not get the next command: the
/// connection failed, or the node is a replica now.
fn master_lost(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_unrecoverable_error()
        || matches!(
            e.kind(),
            ErrorKind::Server(ServerErrorKind::ReadOnly | ServerErrorKind::MasterDown)
        )
}

impl ConnectionLike for SentinelConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let mut m = self.shared.master().await?;
            let result = m.conn.req_packed_command(cmd).await;
            self.shared.observe(&result, m.generation);
            result
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let mut m = self.shared.master().await?;
            let result = m.conn.req_packed_commands(pipeline, offset, count).await;
            self.shared.observe(&result, m.generation);
            result
        })
    }

    fn get_db(&self) -> i64 {
        self.shared.master.db()
    }
}

/// Subscribes the event bus on the master in use and moves it whenever a
/// new master connection is made, so the bus resubscribes there (and its
/// sockets are rechecked).
pub struct SentinelSubscription {
    conn: SentinelConn,
    /// The master generation the bus was handed last.
    handed_out: AtomicU64,
    changes: Receiver<u64>,
}

#[async_trait]
impl SubscribeTarget for SentinelSubscription {
    async fn node(&self, _attempt: usize) -> RedisResult<Client> {
        let m = self.conn.shared.master().await?;
        self.handed_out.store(m.generation, Ordering::Relaxed);
        Ok(m.client)
    }

    async fn moved(&self) {
        let handed_out = self.handed_out.load(Ordering::Relaxed);
        let mut changes = self.changes.clone();
        if changes.wait_for(|g| *g != handed_out).await.is_err() {
            // The connection is gone: the app is shutting down.
            std::future::pending::<()>().await;
        }
    }
}
