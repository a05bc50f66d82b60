//! The sign-in use case: rate limit -> password -> token -> one store step.
//!
//! Called by the HTTP handler with parsed credentials; callable and tested
//! without axum. The store's `sign_in` is the single atomic step that applies
//! the policy; a failed call is sent again with the same ids (a re-run answers
//! alike), then handed to the `UndoQueue`, so a 503 leaves nothing behind.
//! Records the result in the metrics and the audit log, once, here.

use std::sync::Arc;
use std::time::Duration;

use super::undo::UndoQueue;
use super::AppError;
use crate::auth::{issue_token, FailureLimiter, PasswordVerifier, User, Users};
use crate::domain::{
    Clock, DeviceName, Lifetimes, OnLimit, Policy, Session, SessionId, Token, Username,
};
use crate::metrics::Metrics;
use crate::store::{SessionStore, SignInOutcome, SignInRequest, StoreError};

/// Waits before sending an unconfirmed sign-in again, one per retry. With
/// `--redis-timeout` 2s a sign-in answers within about 6.5 s, under the
/// 15 s request timeout.
const SIGN_IN_RETRY_WAITS: [Duration; 2] = [Duration::from_millis(100), Duration::from_millis(400)];

/// What the client sent.
pub struct Credentials {
    pub username: Username,
    pub password: String,
    pub device: Option<DeviceName>,
}

/// Where the request came from.
#[derive(Clone, Debug)]
pub struct ClientMeta {
    pub ip: String,
    pub user_agent: Option<String>,
}

/// A successful sign-in: the new session, its token (shown once), and the
/// sessions it pushed out.
pub struct SignedIn {
    pub session: Session,
    pub token: Token,
    pub user: User,
    pub revoked: Vec<Session>,
}

/// Everything sign-in needs; one per instance.
pub struct SignInService {
    pub users: Arc<Users>,
    pub verifier: PasswordVerifier,
    pub limiter: Arc<FailureLimiter>,
    pub policy: Policy,
    pub lifetimes: Lifetimes,
    pub store: Arc<dyn SessionStore>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    pub undo: UndoQueue,
}

impl SignInService {
    /// The policy for `user`: the global one with the user's overrides.
    pub fn policy_for(&self, user: &User) -> Policy {
        Policy {
            max_sessions: user.max_sessions.unwrap_or(self.policy.max_sessions),
            on_limit: user.on_limit.unwrap_or(self.policy.on_limit),
        }
    }

    /// Signs `creds` in from `meta`, or says why not.
    #[tracing::instrument(skip(self, creds, meta), fields(username = %creds.username, ip = %meta.ip))]
    pub async fn sign_in(
        &self,
        creds: Credentials,
        meta: ClientMeta,
    ) -> Result<SignedIn, AppError> {
        let result = self.attempt(creds, meta).await;
        self.metrics.sign_in(result_label(&result));
        result
    }

    async fn attempt(&self, creds: Credentials, meta: ClientMeta) -> Result<SignedIn, AppError> {
        let name = creds.username.as_str();
        let ticket = self
            .limiter
            .admit(&meta.ip, name)
            .await
            .map_err(|retry_after| {
                tracing::info!(target: "audit", "sign-in refused: rate limited");
                AppError::RateLimited { retry_after }
            })?;

        let user = self.users.get(&creds.username);
        let ok = self
            .verifier
            .verify(user.map(|u| u.password_hash.as_str()), &creds.password)
            .await?;
        let user = match (ok, user) {
            (true, Some(user)) => user.clone(),
            _ => {
                ticket.failed();
                tracing::info!(target: "audit", "sign-in refused: invalid credentials");
                return Err(AppError::InvalidCredentials);
            }
        };

        drop(ticket);
        let token = issue_token(&user.username)?;
        let now = self.clock.now();
        let session = Session {
            session_id: token.session_id().clone(),
            username: user.username.clone(),
            device: DeviceName::given_or_derived(creds.device, meta.user_agent.as_deref()),
            ip: meta.ip.clone(),
            user_agent: meta.user_agent.clone().unwrap_or_default(),
            created_at: now,
            last_seen_at: now,
            expires_at: now.plus(self.lifetimes.absolute),
            token_hash: token.hash(),
        };
        let policy = self.policy_for(&user);
        let outcome = self
            .admit(SignInRequest {
                session: session.clone(),
                policy,
                now,
            })
            .await?;
        match outcome {
            SignInOutcome::Created { revoked } => {
                let ids: Vec<&str> = revoked.iter().map(|s| s.session_id.as_str()).collect();
                tracing::info!(target: "audit", session_id = %session.session_id, device = session.device.as_str(), revoked = ?ids, "signed in");
                Ok(SignedIn {
                    session,
                    token,
                    user,
                    revoked,
                })
            }
            SignInOutcome::Denied { active } => {
                debug_assert_eq!(policy.on_limit, OnLimit::DenyNew);
                tracing::info!(target: "audit", "sign-in refused: session limit reached");
                Err(AppError::SessionLimitReached { active })
            }
        }
    }

    /// The store step, sent again with the same ids while the store cannot
    /// be reached; undone unless the store confirmed it.
    async fn admit(&self, req: SignInRequest) -> Result<SignInOutcome, StoreError> {
        let mut unconfirmed = UndoOnDrop {
            undo: &self.undo,
            sign_in: Some((req.session.username.clone(), req.session.session_id.clone())),
        };
        let mut waits = SIGN_IN_RETRY_WAITS.iter();
        loop {
            match self.store.sign_in(req.clone()).await {
                Ok(outcome) => {
                    unconfirmed.sign_in = None;
                    return Ok(outcome);
                }
                Err(e @ StoreError::Unavailable(_)) => match waits.next() {
                    Some(wait) => {
                        tracing::debug!(error = ?e, "sign-in not confirmed; sending it again");
                        tokio::time::sleep(*wait).await;
                    }
                    None => return Err(e),
                },
                Err(e) => return Err(e),
            }
        }
    }
}

/// Queues the sign-in's undo when dropped while it still holds it: the store
/// call failed, or the request was dropped (its client went away) mid-call.
struct UndoOnDrop<'a> {
    undo: &'a UndoQueue,
    sign_in: Option<(Username, SessionId)>,
}

impl Drop for UndoOnDrop<'_> {
    fn drop(&mut self) {
        if let Some((username, id)) = self.sign_in.take() {
            self.undo.push(username, id);
        }
    }
}

/// The `result` label of the sign-in counter.
fn result_label<T>(result: &Result<T, AppError>) -> &'static str {
    use crate::auth::AuthError;
    match result {
        Ok(_) => "ok",
        Err(AppError::InvalidCredentials) => "invalid_credentials",
        Err(AppError::RateLimited { .. }) => "rate_limited",
        Err(AppError::Auth(AuthError::Busy)) => "busy",
        Err(AppError::SessionLimitReached { .. }) => "session_limit_reached",
        Err(AppError::Store(_)) => "store_error",
        Err(_) => "error",
    }
}
