//! `AppState`: the one cheap-to-clone handle that handlers and sockets share.
//!
//! Built once by `startup`; holds the authenticator, store, hub, clock,
//! configuration and the admin snapshot. Passed with axum's `State`.

use std::ops::Deref;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::auth::Authenticator;
use crate::config::Config;
use crate::domain::Clock;
use crate::events::BusHealth;
use crate::http::AdminCache;
use crate::metrics::Metrics;
use crate::presence::Presence;
use crate::store::SessionStore;
use crate::ws::{ConnContext, Hub};

#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub auth: Authenticator,
    pub store: Arc<dyn SessionStore>,
    pub hub: Arc<Hub>,
    /// Socket counts across instances.
    pub presence: Arc<dyn Presence>,
    /// Whether this instance hears store events (readiness).
    pub bus_health: Arc<BusHealth>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    pub config: Config,
    pub admin_cache: AdminCache,
    /// Fires when the instance shuts down; sockets close with 1012.
    pub shutdown: CancellationToken,
}

impl AppState {
    pub fn new(shared: Shared) -> Self {
        AppState(Arc::new(shared))
    }

    /// What a new socket's task needs.
    pub fn conn_context(&self) -> ConnContext {
        ConnContext {
            hub: self.hub.clone(),
            store: self.store.clone(),
            clock: self.clock.clone(),
            auth_timeout: self.config.ws_auth_timeout,
            idle_timeout: self.config.ws_idle_timeout,
            touch_after: self.config.lifetimes.touch_after,
            metrics: self.metrics.clone(),
            shutdown: self.shutdown.clone(),
        }
    }
}

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}
