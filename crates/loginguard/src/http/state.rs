//! `AppState`: the router's state, one sub-state per thing a handler may use.
//!
//! Built once by `startup`. Handlers and extractors name the sub-state they
//! need (`State<Arc<SessionService>>`, `ClientIpRule`, ...) through axum's
//! `FromRef`, so each one's dependencies can be read off its signature.

use std::sync::Arc;

use axum::extract::FromRef;

use super::cookie::CookieRule;
use crate::app::{
    AdminService, BackendService, Operations, PolicyService, SessionService, SignInService,
};
use crate::auth::Accounts;
use crate::ws::ConnContext;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub sign_in: Arc<SignInService>,
    pub sessions: Arc<SessionService>,
    pub admin: Arc<AdminService>,
    pub policies: Arc<PolicyService>,
    pub backend: Arc<BackendService>,
    pub operations: Arc<Operations>,
    pub accounts: Arc<Accounts>,
    pub client_ip: ClientIpRule,
    pub origins: OriginRule,
    pub cookies: CookieRule,
    pub sockets: Arc<ConnContext>,
}

/// Where the client's IP comes from.
#[derive(Clone, Copy, Debug)]
pub struct ClientIpRule {
    /// Take it from `X-Forwarded-For` (only behind a proxy we run).
    pub trust_forwarded_for: bool,
}

/// Which browser origins may open a WebSocket (and, in cookie mode, act
/// with the cookie).
#[derive(Clone, Debug)]
pub struct OriginRule {
    /// Empty: any origin.
    pub allowed: Arc<[String]>,
}

impl OriginRule {
    /// A request without `Origin` (not a browser) is allowed.
    pub fn allows(&self, origin: Option<&[u8]>) -> bool {
        let Some(origin) = origin else { return true };
        self.allowed.is_empty() || self.lists(origin)
    }

    /// Whether `origin` is named in the allow-list (an empty list names none).
    pub fn lists(&self, origin: &[u8]) -> bool {
        self.allowed
            .iter()
            .any(|a| a.as_bytes().eq_ignore_ascii_case(origin))
    }
}
