//! Builds the application from a `Config` and runs it until shutdown.
//!
//! `App::build` wires store -> bus -> hub, the use cases and the router's
//! state, each part from its own config sub-tree, binds the listener (port 0
//! allowed) and exposes `local_addr()` and `reload_handle()`; `App::run`
//! serves (and reconciles sessions with the users file, at once and on each
//! reload) until the given token fires, then closes sockets with 1012, lets
//! in-flight requests finish and waits (bounded) for background tasks. The binary and the tests use
//! this same path. The top of the dependency graph: nothing imports it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use secrecy::{ExposeSecret, SecretString};

pub use crate::app::ReloadHandle;
use crate::app::{
    run_reloads, AdminService, Operations, Reconciler, SessionService, SignInService,
};
use crate::auth::{Accounts, FailureLimiter, PasswordVerifier, RateLimits};
use crate::config::{Config, StoreBackend};
use crate::domain::{Clock, SystemClock};
use crate::events::{BusHealth, EventHandler, LocalBus, RedisBus, SubscribeTarget};
use crate::http::{self, AppState, ClientIpRule, OriginRule};
use crate::metrics::Metrics;
use crate::presence::{LocalPresence, LocalSockets, Presence, RedisPresence};
use crate::store::redis::{RedisConn, RedisTls, SentinelConn};
use crate::store::{MemoryStore, RedisStore, SessionStore, SnapshotCache, StoreError, TimedStore};
use crate::ws::{self, close::CloseCode, ConnContext, Hub};

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
    #[error("cannot prepare the session store")]
    Store(#[from] crate::store::StoreError),
    #[error("the random number generator failed")]
    Rng(#[source] getrandom::Error),
    #[error("cannot prepare password hashing")]
    Auth(#[from] crate::auth::AuthError),
}

/// A built, bound, not yet running instance.
pub struct App {
    listener: TcpListener,
    state: AppState,
    hub: Arc<Hub>,
    store: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
    sweep_interval: Duration,
    /// Ends the sessions the users file no longer backs (start-up, reloads).
    reconciler: Reconciler,
    reloads: ReloadHandle,
    /// Fires when the instance shuts down; sockets close with 1012.
    shutdown: CancellationToken,
    store_kind: &'static str,
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
        let accounts = Arc::new(
            Accounts::load(config.accounts.users.as_deref()).map_err(StartupError::Users)?,
        );
        let users = accounts.current();
        if users.demo_accounts().is_empty() {
            tracing::info!(accounts = users.len(), "users file loaded");
        } else {
            tracing::warn!("DEMO MODE: no --users file; demo accounts user1/password1, user2/password2, admin/admin123 are active");
        }
        let lifetimes = config.session.lifetimes();
        let metrics = Arc::new(Metrics::new());
        let hub = Hub::new(metrics.clone());
        let sockets: Arc<dyn LocalSockets> = hub.clone();
        let (store, presence, bus_health, redis): (Arc<dyn SessionStore>, Arc<dyn Presence>, _, _) =
            match config.store.backend() {
                StoreBackend::Memory => {
                    let bus = LocalBus::new();
                    bus.attach(hub.clone() as Arc<dyn EventHandler>);
                    (
                        Arc::new(MemoryStore::new(lifetimes, bus)),
                        Arc::new(LocalPresence::new(sockets.clone())),
                        Arc::new(BusHealth::new(true)),
                        None,
                    )
                }
                StoreBackend::Redis(url) => {
                    let tls = redis_tls(&config);
                    let conn = RedisConn::single(url.expose_secret(), &tls)
                        .map_err(StoreError::unavailable)?;
                    let bus = clients(std::slice::from_ref(url), &tls)?;
                    redis_parts(conn, bus, &config, &sockets, &clock)?
                }
                StoreBackend::Cluster(nodes) => {
                    let tls = redis_tls(&config);
                    let urls: Vec<&str> = nodes.iter().map(|n| n.expose_secret()).collect();
                    let conn = RedisConn::cluster(&urls, &tls).map_err(StoreError::unavailable)?;
                    redis_parts(conn, clients(nodes, &tls)?, &config, &sockets, &clock)?
                }
                StoreBackend::Sentinel { sentinels, master } => {
                    let urls: Vec<&str> = sentinels.iter().map(|n| n.expose_secret()).collect();
                    let sentinel =
                        SentinelConn::new(&urls, master.expose_secret(), &redis_tls(&config))
                            .map_err(StoreError::unavailable)?;
                    let bus = sentinel.subscription();
                    redis_parts(
                        RedisConn::Sentinel(sentinel),
                        bus,
                        &config,
                        &sockets,
                        &clock,
                    )?
                }
            };
        let store: Arc<dyn SessionStore> = Arc::new(TimedStore::new(store, metrics.clone()));
        let snapshot = Arc::new(SnapshotCache::new(
            store.clone(),
            clock.clone(),
            config.admin.cache_ttl,
        ));
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        // One hashing thread per core: they run at a lower priority, so the
        // async workers still get the CPU for kicks and pongs.
        let verifier = PasswordVerifier::new(cores)?;
        let sign_in = SignInService {
            accounts: accounts.clone(),
            verifier: verifier.clone(),
            limiter: FailureLimiter::new(
                RateLimits {
                    per_ip: config.limits.rate_limit_ip,
                    per_account: config.limits.rate_limit_account,
                },
                clock.clone(),
            ),
            policy: config.session.policy(),
            lifetimes,
            store: store.clone(),
            clock: clock.clone(),
            metrics: metrics.clone(),
        };
        let sessions = SessionService {
            store: store.clone(),
            accounts: accounts.clone(),
            presence: presence.clone(),
            clock: clock.clone(),
        };
        let admin = AdminService {
            store: store.clone(),
            snapshot: snapshot.clone(),
            accounts: accounts.clone(),
            presence,
            clock: clock.clone(),
        };
        let operations = Operations {
            store: store.clone(),
            bus_health,
            snapshot,
            sockets,
            verifier,
            metrics: metrics.clone(),
        };
        let reconciler = Reconciler {
            accounts: accounts.clone(),
            store: store.clone(),
            clock: clock.clone(),
        };
        let shutdown = CancellationToken::new();
        let conn_context = ConnContext {
            hub: hub.clone(),
            store: store.clone(),
            clock: clock.clone(),
            auth_timeout: config.ws.auth_timeout,
            idle_timeout: config.ws.idle_timeout,
            touch_after: lifetimes.touch_after,
            metrics,
            shutdown: shutdown.clone(),
        };
        let state = AppState {
            sign_in: Arc::new(sign_in),
            sessions: Arc::new(sessions),
            admin: Arc::new(admin),
            operations: Arc::new(operations),
            accounts: accounts.clone(),
            client_ip: ClientIpRule {
                trust_forwarded_for: config.http.trust_forwarded_for,
            },
            origins: OriginRule {
                allowed: config.http.allowed_origins.clone().into(),
            },
            sockets: conn_context,
        };
        let listen = config.http.listen;
        let listener = bind(listen).map_err(|source| StartupError::Bind {
            addr: listen,
            source,
        })?;
        Ok(App {
            listener,
            state,
            hub,
            store,
            clock,
            sweep_interval: config.session.sweep_interval,
            reconciler,
            reloads: ReloadHandle::default(),
            shutdown,
            store_kind: store_kind(&config),
            redis,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Asks the running app to reload the users file (SIGHUP) and end the
    /// sessions it no longer backs. Requests made before `run` wait for it.
    pub fn reload_handle(&self) -> ReloadHandle {
        self.reloads.clone()
    }

    /// Serves until `shutdown` fires, then drains and returns.
    pub async fn run(self, shutdown: CancellationToken) -> std::io::Result<()> {
        let App {
            listener,
            state,
            hub,
            store,
            clock,
            sweep_interval,
            reconciler,
            reloads,
            shutdown: inner,
            store_kind,
            redis,
        } = self;
        let tracker = TaskTracker::new();
        if let Some(parts) = redis {
            tracker.spawn(parts.bus.run(hub.clone(), inner.clone()));
            tracker.spawn(parts.presence.run(inner.clone()));
        }
        tracker.spawn(ws::run_revalidation(
            hub.clone(),
            store,
            clock,
            sweep_interval,
            inner.clone(),
        ));
        tracker.spawn(run_reloads(reconciler, reloads, inner.clone()));
        tracker.close();

        let addr = listener.local_addr()?;
        tracing::info!(%addr, store = store_kind, "loginguard listening");
        let forward = {
            let inner = inner.clone();
            async move {
                shutdown.cancelled().await;
                tracing::info!("shutting down: closing sockets with 1012");
                inner.cancel();
            }
        };
        tokio::spawn(forward);
        http::serve(listener, http::router(state), inner.clone(), SHUTDOWN_GRACE).await;
        // Sockets watch the token themselves and had the whole HTTP grace
        // period to close; this catches any that registered late.
        hub.close_all(CloseCode::Restarting);
        let drained = tokio::time::timeout(SOCKET_DRAIN, async {
            tracker.wait().await;
            while hub.socket_count() > 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                sockets = hub.socket_count(),
                "shutdown grace period ended with work left"
            );
        }
        Ok(())
    }
}

/// What `loginguard check-config` checks without starting anything: the
/// settings (already parsed into `config`) and every file they name.
/// Returns a one-line summary.
pub fn check_config(config: &Config) -> Result<String, StartupError> {
    let users = Accounts::load(config.accounts.users.as_deref())
        .map_err(StartupError::Users)?
        .current();
    let accounts = match &config.accounts.users {
        Some(path) => format!("users file {} ({} accounts)", path.display(), users.len()),
        None => "no users file (demo accounts)".to_owned(),
    };
    Ok(format!(
        "configuration is valid: {accounts}, store {}",
        store_kind(config)
    ))
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

fn store_kind(config: &Config) -> &'static str {
    match config.store.backend() {
        StoreBackend::Memory => "memory",
        StoreBackend::Redis(_) => "redis",
        StoreBackend::Cluster(_) => "redis-cluster",
        StoreBackend::Sentinel { .. } => "redis-sentinel",
    }
}

/// What `rediss://` connections trust: `--redis-ca`, else the system's roots.
fn redis_tls(config: &Config) -> RedisTls {
    match &config.store.redis_ca {
        Some(ca) => RedisTls::with_ca(ca.pem.clone()),
        None => RedisTls::system_roots(),
    }
}

/// One client per URL, for the event bus to subscribe through.
fn clients(urls: &[SecretString], tls: &RedisTls) -> Result<Vec<redis::Client>, StartupError> {
    urls.iter()
        .map(|u| tls.client(u.expose_secret()))
        .collect::<Result<_, _>>()
        .map_err(|e| StoreError::unavailable(e).into())
}

type StoreParts = (
    Arc<dyn SessionStore>,
    Arc<dyn Presence>,
    Arc<BusHealth>,
    Option<RedisParts>,
);

/// The Redis store, its event bus (subscribed where `bus` says) and presence.
fn redis_parts(
    conn: RedisConn,
    bus: impl SubscribeTarget,
    config: &Config,
    sockets: &Arc<dyn LocalSockets>,
    clock: &Arc<dyn Clock>,
) -> Result<StoreParts, StartupError> {
    let store = RedisStore::new(
        conn.clone(),
        &config.store.redis_prefix,
        config.session.lifetimes(),
    );
    let health = Arc::new(BusHealth::new(false));
    let bus = RedisBus::new(bus, store.keys().events_channel(), health.clone());
    let mut id = [0u8; 8];
    getrandom::fill(&mut id).map_err(StartupError::Rng)?;
    let instance = hex::encode(id);
    tracing::info!(%instance, "instance id for presence");
    let presence = Arc::new(RedisPresence {
        conn,
        keys: store.keys().clone(),
        instance,
        hub: sockets.clone(),
        clock: clock.clone(),
        interval: config.ws.presence_interval,
    });
    Ok((
        Arc::new(store),
        presence.clone(),
        health,
        Some(RedisParts { bus, presence }),
    ))
}
