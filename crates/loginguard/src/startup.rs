//! Builds the application from a `Config` and runs it until shutdown.
//!
//! `App::build` wires store -> bus -> hub, binds the listener (port 0 allowed)
//! and exposes `local_addr()`; `App::run` serves until the given token fires,
//! then closes sockets with 1012, lets in-flight requests finish and waits
//! (bounded) for background tasks. The binary and the tests use this same path.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::{Authenticator, FailureLimiter, PasswordVerifier, RateLimits, Users};
use crate::config::{Config, StoreConfig};
use crate::domain::{Clock, SystemClock};
use crate::events::{BusHealth, EventHandler, LocalBus, RedisBus};
use crate::http::{self, AdminCache};
use crate::metrics::Metrics;
use crate::presence::{LocalPresence, Presence, RedisPresence};
use crate::state::{AppState, Shared};
use crate::store::redis::RedisConn;
use crate::store::{MemoryStore, RedisStore, SessionStore, StoreError, TimedStore};
use crate::ws::{self, close, Hub};

/// How long shutdown waits for HTTP connections to finish their requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// How long it then waits for sockets and background tasks to stop.
const SOCKET_DRAIN: Duration = Duration::from_secs(2);

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Users(String),
    #[error("cannot prepare the session store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("cannot prepare password hashing: {0}")]
    Auth(#[from] crate::auth::AuthError),
}

/// A built, bound, not yet running instance.
pub struct App {
    listener: TcpListener,
    state: AppState,
    /// Present with a Redis store: the event subscription and presence publisher.
    redis: Option<RedisParts>,
}

/// What a Redis-backed instance runs in the background.
struct RedisParts {
    bus: RedisBus,
    presence: Arc<RedisPresence>,
}

impl App {
    /// Builds with the wall clock.
    pub async fn build(config: Config) -> Result<App, StartupError> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// Builds with the given clock (tests pass a `ManualClock`).
    pub async fn build_with_clock(
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<App, StartupError> {
        raise_file_limit();
        let users = match &config.users {
            Some(path) => Users::load(path).map_err(StartupError::Users)?,
            None => {
                tracing::warn!("DEMO MODE: no --users file; demo accounts user1/password1, user2/password2, admin/admin123 are active");
                Users::demo()
            }
        };
        let metrics = Arc::new(Metrics::new());
        let hub = Hub::new(metrics.clone());
        let (store, presence, bus_health, redis): (Arc<dyn SessionStore>, Arc<dyn Presence>, _, _) =
            match &config.store {
                StoreConfig::Memory => {
                    let bus = LocalBus::new();
                    bus.attach(hub.clone() as Arc<dyn EventHandler>);
                    (
                        Arc::new(MemoryStore::new(config.lifetimes, bus)),
                        Arc::new(LocalPresence::new(hub.clone())),
                        Arc::new(BusHealth::new(true)),
                        None,
                    )
                }
                StoreConfig::Redis { url, prefix } => {
                    let conn = RedisConn::single(url).map_err(StoreError::unavailable)?;
                    redis_parts(
                        conn,
                        std::slice::from_ref(url),
                        prefix,
                        &config,
                        &hub,
                        &clock,
                    )?
                }
                StoreConfig::RedisCluster { nodes, prefix } => {
                    let conn = RedisConn::cluster(nodes).map_err(StoreError::unavailable)?;
                    redis_parts(conn, nodes, prefix, &config, &hub, &clock)?
                }
            };
        let store: Arc<dyn SessionStore> = Arc::new(TimedStore::new(store, metrics.clone()));
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        // One hashing thread per core: they run at a lower priority, so the
        // async workers still get the CPU for kicks and pongs.
        let auth = Authenticator {
            users,
            verifier: PasswordVerifier::new(cores)?,
            limiter: FailureLimiter::new(
                RateLimits {
                    per_ip: config.rate_limit_ip,
                    per_account: config.rate_limit_account,
                },
                clock.clone(),
            ),
            policy: config.policy,
            lifetimes: config.lifetimes,
            store: store.clone(),
            clock: clock.clone(),
        };
        let listener = bind(config.listen).map_err(|source| StartupError::Bind {
            addr: config.listen,
            source,
        })?;
        let state = AppState::new(Shared {
            auth,
            store,
            hub,
            presence,
            bus_health,
            clock,
            metrics,
            admin_cache: AdminCache::new(config.admin_cache_ttl),
            config,
            shutdown: CancellationToken::new(),
        });
        Ok(App {
            listener,
            state,
            redis,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `shutdown` fires, then drains and returns.
    pub async fn run(self, shutdown: CancellationToken) -> std::io::Result<()> {
        let App {
            listener,
            state,
            redis,
        } = self;
        let inner = state.shutdown.clone();
        let tracker = TaskTracker::new();
        if let Some(parts) = redis {
            tracker.spawn(parts.bus.run(state.hub.clone(), inner.clone()));
            tracker.spawn(parts.presence.run(inner.clone()));
        }
        tracker.spawn(ws::run_revalidation(
            state.hub.clone(),
            state.store.clone(),
            state.clock.clone(),
            state.config.sweep_interval,
            inner.clone(),
        ));
        tracker.close();

        let addr = listener.local_addr()?;
        tracing::info!(%addr, store = ?store_kind(&state.config.store), "loginguard listening");
        let forward = {
            let inner = inner.clone();
            async move {
                shutdown.cancelled().await;
                tracing::info!("shutting down: closing sockets with 1012");
                inner.cancel();
            }
        };
        tokio::spawn(forward);
        http::serve(
            listener,
            http::router(state.clone()),
            inner.clone(),
            SHUTDOWN_GRACE,
        )
        .await;
        // Sockets watch the token themselves and had the whole HTTP grace
        // period to close; this catches any that registered late.
        state.hub.close_all(close::RESTARTING);
        let drained = tokio::time::timeout(SOCKET_DRAIN, async {
            tracker.wait().await;
            while state.hub.socket_count() > 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                sockets = state.hub.socket_count(),
                "shutdown grace period ended with work left"
            );
        }
        Ok(())
    }
}

/// Pending connections the kernel queues for us. tokio's default (128)
/// overflows when thousands of clients reconnect at once after a restart,
/// and each overflow costs the client a one-second SYN retry.
const LISTEN_BACKLOG: u32 = 4096;

fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Every socket holds a file descriptor, so the soft limit (often 1024) is
/// raised to the hard limit once, with a log line saying what it is now.
fn raise_file_limit() {
    #[cfg(unix)]
    {
        let before = rlimit::getrlimit(rlimit::Resource::NOFILE).map(|(soft, _)| soft);
        match (before, rlimit::increase_nofile_limit(u64::MAX)) {
            (Ok(from), Ok(to)) if to > from => {
                tracing::info!(from, to, "raised the open-file limit (one per socket)")
            }
            (_, Ok(limit)) => tracing::info!(limit, "open-file limit (one per socket)"),
            (_, Err(e)) => tracing::warn!(error = %e, "cannot read or raise the open-file limit"),
        }
    }
}

fn store_kind(store: &StoreConfig) -> &'static str {
    match store {
        StoreConfig::Memory => "memory",
        StoreConfig::Redis { .. } => "redis",
        StoreConfig::RedisCluster { .. } => "redis-cluster",
    }
}

type StoreParts = (
    Arc<dyn SessionStore>,
    Arc<dyn Presence>,
    Arc<BusHealth>,
    Option<RedisParts>,
);

/// The Redis store, its event bus and presence. The bus subscribes on any of
/// `nodes`: a classic `PUBLISH` reaches every node of a cluster.
fn redis_parts(
    conn: RedisConn,
    nodes: &[String],
    prefix: &str,
    config: &Config,
    hub: &Arc<Hub>,
    clock: &Arc<dyn Clock>,
) -> Result<StoreParts, StoreError> {
    let store = RedisStore::new(conn.clone(), prefix, config.lifetimes);
    let clients = nodes
        .iter()
        .map(|n| redis::Client::open(n.as_str()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(StoreError::unavailable)?;
    let health = Arc::new(BusHealth::new(false));
    let bus = RedisBus::new(clients, store.keys().events_channel(), health.clone());
    let mut id = [0u8; 8];
    getrandom::fill(&mut id).map_err(StoreError::corrupt)?;
    let instance = hex::encode(id);
    tracing::info!(%instance, "instance id for presence");
    let presence = Arc::new(RedisPresence::new(
        conn,
        store.keys().clone(),
        instance,
        hub.clone(),
        clock.clone(),
        config.presence_interval,
    ));
    Ok((
        Arc::new(store),
        presence.clone(),
        health,
        Some(RedisParts { bus, presence }),
    ))
}
