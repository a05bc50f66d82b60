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

use crate::app::webhooks::{Dispatcher, EndpointSet, Sender, Webhooks};
pub use crate::app::ReloadHandle;
use crate::app::{
    run_key_reloads, run_reloads, run_webhook_reloads, undo_queue, AdminService, BackendService,
    ConfiguredPolicies, Operations, PolicyService, Reconciler, SessionService, SignInService,
    UndoWorker,
};
use crate::auth::{
    Accounts, ApiKeys, DeviceTokens, FailureLimiter, KeySet, PasswordVerifier, RateLimits,
};
use crate::config::{Config, StoreBackend, StoreConfig};
use crate::domain::{Clock, RetrySchedule, SystemClock};
use crate::events::{BusHealth, EventHandler, LocalBus, RedisBus, SubscribeTarget};
use crate::http::{self, AppState, ClientIpRule, CookieRule, OriginRule, TlsListener};
use crate::metrics::Metrics;
use crate::presence::{LocalPresence, LocalSockets, Presence, RedisPresence};
use crate::store::redis::{RedisConn, RedisOutbox, RedisTls, SentinelConn};
use crate::store::{
    AuditSettings, FailureCounter, MemoryFailures, MemoryOutbox, MemoryStore, RedisStore,
    SessionStore, SnapshotCache, StoreError, TimedStore, WebhookOutbox, MEMORY_OUTBOX_CAPACITY,
};
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
    #[error("{0}")]
    ApiKeys(String),
    #[error("{0}")]
    Webhooks(String),
    #[error("cannot build the webhook client")]
    WebhookClient(#[source] reqwest::Error),
    #[error("cannot prepare the session store")]
    Store(#[from] crate::store::StoreError),
    #[error("cannot use the TLS certificate")]
    Tls(#[from] crate::http::TlsError),
    /// The Redis answered and is not one to run on (too old, or evicting).
    #[error(transparent)]
    UnsuitableRedis(crate::store::redis::RequirementError),
    #[error("the random number generator failed")]
    Rng(#[source] getrandom::Error),
    #[error("cannot prepare password hashing")]
    Auth(#[from] crate::auth::AuthError),
    #[error("the audit trail of the embedded store lives in its process: read it with GET /api/admin/audit, or give --redis, --redis-cluster or --redis-sentinel")]
    NoRedis,
}

/// A built, bound, not yet running instance.
pub struct App {
    listener: TcpListener,
    /// Present with `--tls-cert`: HTTPS and WSS on the listener.
    tls: Option<Arc<TlsListener>>,
    state: AppState,
    hub: Arc<Hub>,
    store: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
    sweep_interval: Duration,
    /// Ends the sessions the users file no longer backs (start-up, reloads).
    reconciler: Reconciler,
    /// Present with `--api-keys`: reloaded on each reload request.
    api_keys: Option<Arc<ApiKeys>>,
    /// Present with `--webhooks`: delivers events; its file reloads.
    webhooks: Option<Dispatcher>,
    reloads: ReloadHandle,
    /// Fires when the instance shuts down; sockets close with 1012.
    shutdown: CancellationToken,
    store_kind: &'static str,
    /// Undoes sign-ins the store did not confirm.
    undo: UndoWorker,
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
        let api_keys = Arc::new(
            ApiKeys::load(config.accounts.api_keys.as_deref()).map_err(StartupError::ApiKeys)?,
        );
        let webhooks = Arc::new(
            Webhooks::load(config.webhooks.webhooks.as_deref()).map_err(StartupError::Webhooks)?,
        );
        let users = accounts.current();
        if users.demo_accounts().is_empty() {
            tracing::info!(accounts = users.len(), "users file loaded");
        } else {
            tracing::warn!("DEMO MODE: no --users file; demo accounts user1/password1, user2/password2, admin/admin123 are active");
        }
        let lifetimes = config.session.lifetimes();
        let metrics = Arc::new(Metrics::new());
        let hub = Hub::new(metrics.clone(), config.ws.max_sockets_per_session as usize);
        let sockets: Arc<dyn LocalSockets> = hub.clone();
        let audit = AuditSettings {
            instance: instance_id()?,
            max_entries: config.store.audit_max_entries as usize,
        };
        tracing::info!(instance = %audit.instance, "instance id (presence, audit trail)");
        let (store, failures, presence, bus_health, redis, outbox): StoreParts =
            match config.store.backend() {
                StoreBackend::Memory => {
                    let bus = LocalBus::new();
                    bus.attach(hub.clone() as Arc<dyn EventHandler>);
                    let memory = Arc::new(MemoryStore::with_audit(lifetimes, bus, audit));
                    (
                        memory.clone(),
                        Arc::new(MemoryFailures::new()),
                        Arc::new(LocalPresence::new(sockets.clone())),
                        Arc::new(BusHealth::new(true)),
                        None,
                        Arc::new(MemoryOutbox::new(memory, MEMORY_OUTBOX_CAPACITY)),
                    )
                }
                StoreBackend::Redis(url) => {
                    let tls = redis_tls(&config);
                    let conn =
                        RedisConn::single(url.expose_secret(), &tls, config.store.redis_timeout)
                            .map_err(StoreError::unavailable)?;
                    let bus = clients(std::slice::from_ref(url), &tls)?;
                    redis_parts(conn, bus, &config, audit, &sockets, &clock).await?
                }
                StoreBackend::Cluster(nodes) => {
                    let tls = redis_tls(&config);
                    let urls: Vec<&str> = nodes.iter().map(|n| n.expose_secret()).collect();
                    let conn = RedisConn::cluster(&urls, &tls, config.store.redis_timeout)
                        .map_err(StoreError::unavailable)?;
                    let bus = clients(nodes, &tls)?;
                    redis_parts(conn, bus, &config, audit, &sockets, &clock).await?
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
                        audit,
                        &sockets,
                        &clock,
                    )
                    .await?
                }
            };
        let store: Arc<dyn SessionStore> = Arc::new(TimedStore::new(store, metrics.clone()));
        let dispatcher = match &config.webhooks.webhooks {
            Some(_) => Some(Dispatcher {
                outbox,
                webhooks,
                sender: Sender::new(config.webhooks.webhook_timeout)
                    .map_err(StartupError::WebhookClient)?,
                schedule: RetrySchedule::default(),
                timeout: config.webhooks.webhook_timeout,
                audit_cap: config.store.audit_max_entries as u64,
                clock: clock.clone(),
                metrics: metrics.clone(),
            }),
            None => None,
        };
        let snapshot = Arc::new(SnapshotCache::new(
            store.clone(),
            clock.clone(),
            config.admin.cache_ttl,
        ));
        let (undo, undo_worker) = undo_queue(store.clone(), clock.clone());
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        // One hashing thread per core: they run at a lower priority, so the
        // async workers still get the CPU for kicks and pongs.
        let verifier = PasswordVerifier::new(cores)?;
        let policies = ConfiguredPolicies {
            accounts: accounts.clone(),
            flags: config.session.policy(),
        };
        let sign_in = SignInService {
            accounts: accounts.clone(),
            verifier: verifier.clone(),
            limiter: FailureLimiter::new(
                RateLimits {
                    per_ip: config.limits.rate_limit_ip,
                    per_account: config.limits.rate_limit_account,
                },
                failures,
                clock.clone(),
            ),
            devices: device_tokens(&config)?,
            policies: policies.clone(),
            lifetimes,
            store: store.clone(),
            clock: clock.clone(),
            metrics: metrics.clone(),
            undo,
        };
        let sign_in = Arc::new(sign_in);
        let sessions = Arc::new(SessionService {
            store: store.clone(),
            accounts: accounts.clone(),
            presence: presence.clone(),
            clock: clock.clone(),
        });
        let backend = BackendService {
            keys: api_keys.clone(),
            sign_in: sign_in.clone(),
            sessions: sessions.clone(),
        };
        let policy_overrides = Arc::new(PolicyService {
            store: store.clone(),
            configured: policies,
        });
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
        let conn_context = Arc::new(ConnContext {
            hub: hub.clone(),
            store: store.clone(),
            clock: clock.clone(),
            auth_timeout: config.ws.auth_timeout,
            idle_timeout: config.ws.idle_timeout,
            write_timeout: config.ws.write_timeout,
            session_idle: lifetimes.idle,
            touch_after: lifetimes.touch_after,
            metrics,
            shutdown: shutdown.clone(),
        });
        let tls = match (&config.http.tls_cert, &config.http.tls_key) {
            (Some(cert), Some(key)) => Some(Arc::new(TlsListener::load(cert, key)?)),
            _ => None,
        };
        let state = AppState {
            sign_in,
            sessions,
            admin: Arc::new(admin),
            policies: policy_overrides,
            backend: Arc::new(backend),
            operations: Arc::new(operations),
            accounts: accounts.clone(),
            client_ip: ClientIpRule {
                trust_forwarded_for: config.http.trust_forwarded_for,
            },
            origins: OriginRule {
                allowed: config.http.allowed_origins.clone().into(),
            },
            cookies: CookieRule {
                name: config.http.cookie.as_deref().map(Into::into),
                secure: !config.http.cookie_insecure,
                https: tls.is_some(),
                trust_forwarded_proto: config.http.trust_forwarded_for,
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
            tls,
            state,
            hub,
            store,
            clock,
            sweep_interval: config.session.sweep_interval,
            reconciler,
            api_keys: config.accounts.api_keys.is_some().then_some(api_keys),
            webhooks: dispatcher,
            reloads: ReloadHandle::default(),
            shutdown,
            store_kind: store_kind(&config),
            undo: undo_worker,
            redis,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Asks the running app to reload the users file (SIGHUP) and end the
    /// sessions it no longer backs, the API keys and the TLS pair. Requests
    /// made before `run` wait for it.
    pub fn reload_handle(&self) -> ReloadHandle {
        self.reloads.clone()
    }

    /// Serves until `shutdown` fires, then drains and returns.
    pub async fn run(self, shutdown: CancellationToken) -> std::io::Result<()> {
        let App {
            listener,
            tls,
            state,
            hub,
            store,
            clock,
            sweep_interval,
            reconciler,
            api_keys,
            webhooks,
            reloads,
            shutdown: inner,
            store_kind,
            undo,
            redis,
        } = self;
        let tracker = TaskTracker::new();
        if let Some(tls) = &tls {
            tracker.spawn(tls.clone().run_reloads(reloads.subscribe(), inner.clone()));
        }
        // Requests still finishing during the HTTP grace period may queue
        // undos, so the worker stops only after them.
        let undo_stop = CancellationToken::new();
        tracker.spawn(undo.run(undo_stop.clone()));
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
        tracker.spawn(run_reloads(reconciler, reloads.subscribe(), inner.clone()));
        if let Some(keys) = api_keys {
            tracker.spawn(run_key_reloads(keys, reloads.subscribe(), inner.clone()));
        }
        if let Some(dispatcher) = webhooks {
            let file = dispatcher.webhooks.clone();
            tracker.spawn(run_webhook_reloads(
                file,
                reloads.subscribe(),
                inner.clone(),
            ));
            tracker.spawn(dispatcher.run(inner.clone()));
        }
        tracker.close();

        let addr = listener.local_addr()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(%addr, scheme, store = store_kind, "loginguard listening");
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
            http::router(state),
            tls,
            inner.clone(),
            SHUTDOWN_GRACE,
        )
        .await;
        undo_stop.cancel();
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
    let api_keys = match &config.accounts.api_keys {
        Some(path) => {
            let keys = KeySet::load(path).map_err(StartupError::ApiKeys)?;
            format!("API keys file {} ({} keys)", path.display(), keys.len())
        }
        None => "no API keys".to_owned(),
    };
    let webhooks = match &config.webhooks.webhooks {
        Some(path) => {
            let set = EndpointSet::load(path).map_err(StartupError::Webhooks)?;
            format!("webhooks file {} ({} endpoints)", path.display(), set.len())
        }
        None => "no webhooks".to_owned(),
    };
    let tls = match (&config.http.tls_cert, &config.http.tls_key) {
        (Some(cert), Some(key)) => {
            TlsListener::load(cert, key)?;
            format!("TLS certificate {}", cert.display())
        }
        _ => "no TLS".to_owned(),
    };
    Ok(format!(
        "configuration is valid: {accounts}, {api_keys}, {webhooks}, {tls}, store {}",
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

/// The Redis store `config` names, for `loginguard audit`: the same
/// connection code as `serve` (TLS, ACL user in the URL, Cluster, Sentinel).
pub fn audit_store(config: &StoreConfig) -> Result<RedisStore, StartupError> {
    let tls = store_tls(config);
    let conn = match config.backend() {
        StoreBackend::Memory => return Err(StartupError::NoRedis),
        StoreBackend::Redis(url) => {
            RedisConn::single(url.expose_secret(), &tls, config.redis_timeout)
        }
        StoreBackend::Cluster(nodes) => {
            let urls: Vec<&str> = nodes.iter().map(|n| n.expose_secret()).collect();
            RedisConn::cluster(&urls, &tls, config.redis_timeout)
        }
        StoreBackend::Sentinel { sentinels, master } => {
            let urls: Vec<&str> = sentinels.iter().map(|n| n.expose_secret()).collect();
            SentinelConn::new(&urls, master.expose_secret(), &tls).map(RedisConn::Sentinel)
        }
    }
    .map_err(StoreError::unavailable)?;
    // Only reads: the lifetimes are never used.
    let lifetimes = crate::domain::Lifetimes {
        idle: Duration::ZERO,
        absolute: Duration::ZERO,
        touch_after: Duration::ZERO,
    };
    Ok(RedisStore::new(conn, &config.redis_prefix, lifetimes))
}

/// What `rediss://` connections trust: `--redis-ca`, else the system's roots.
fn redis_tls(config: &Config) -> RedisTls {
    store_tls(&config.store)
}

fn store_tls(store: &StoreConfig) -> RedisTls {
    match &store.redis_ca {
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

/// The store, its failed-sign-in counters (shared by every instance on
/// Redis), presence, bus health, the Redis background parts and the
/// webhook outbox on the same store.
type StoreParts = (
    Arc<dyn SessionStore>,
    Arc<dyn FailureCounter>,
    Arc<dyn Presence>,
    Arc<BusHealth>,
    Option<RedisParts>,
    Arc<dyn WebhookOutbox>,
);

/// A fresh random name for this instance: presence publishes under it and
/// the audit trail signs its entries with it.
fn instance_id() -> Result<String, StartupError> {
    let mut id = [0u8; 8];
    getrandom::fill(&mut id).map_err(StartupError::Rng)?;
    Ok(hex::encode(id))
}

/// The device token signer: the configured key, or a random one, with a
/// warning where several instances may run (they would not honour each
/// other's tokens).
fn device_tokens(config: &Config) -> Result<DeviceTokens, StartupError> {
    if let Some(key) = &config.limits.device_cookie_key {
        return Ok(DeviceTokens::new(key.expose_secret().as_bytes()));
    }
    let why = "no --device-cookie-key: device tokens are signed with a random key and honoured only by this instance until it restarts";
    match config.store.backend() {
        StoreBackend::Memory => tracing::info!("{why}"),
        _ => tracing::warn!("{why}; give every instance the same key"),
    }
    Ok(DeviceTokens::random()?)
}

/// The Redis store, its event bus (subscribed where `bus` says) and presence.
async fn redis_parts(
    conn: RedisConn,
    bus: impl SubscribeTarget,
    config: &Config,
    audit: AuditSettings,
    sockets: &Arc<dyn LocalSockets>,
    clock: &Arc<dyn Clock>,
) -> Result<StoreParts, StartupError> {
    let store = RedisStore::new(
        conn.clone(),
        &config.store.redis_prefix,
        config.session.lifetimes(),
    )
    .allow_evicting(config.store.allow_evicting_redis)
    .with_audit(audit.clone());
    // A Redis that is down now is checked when it answers (until then the
    // instance is not ready); one that answers and does not suit us is fatal.
    match store.verify_server().await {
        Ok(()) => {}
        Err(StoreError::Unsuitable(e)) => return Err(StartupError::UnsuitableRedis(e)),
        Err(e) => {
            tracing::warn!(error = ?e, "cannot check the Redis server yet; readiness checks it once it answers")
        }
    }
    let health = Arc::new(BusHealth::new(false));
    let bus = RedisBus::new(bus, store.keys().events_channel(), health.clone());
    let outbox = Arc::new(RedisOutbox::new(
        conn.clone(),
        store.keys(),
        &audit.instance,
    ));
    let presence = Arc::new(RedisPresence {
        conn,
        keys: store.keys().clone(),
        instance: audit.instance,
        hub: sockets.clone(),
        clock: clock.clone(),
        interval: config.ws.presence_interval,
    });
    let store = Arc::new(store);
    Ok((
        store.clone(),
        store,
        presence.clone(),
        health,
        Some(RedisParts { bus, presence }),
        outbox,
    ))
}
