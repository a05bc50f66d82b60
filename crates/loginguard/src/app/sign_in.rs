//! The sign-in use case: rate limit -> password -> token -> one store step.
//!
//! Called by the HTTP handler with parsed credentials, and by the trusted
//! backend use case (`backend.rs`) for the subjects it vouches for; callable
//! and tested without axum. The store's `sign_in` is the single atomic step
//! that applies the policy; everything before it only decides whether to
//! ask. A password session records the password it was made under, for
//! reloads of the users file. Records the result in the metrics and the
//! audit log, once, here.

use std::sync::Arc;

use super::reconcile::{end_outdated, outdated};
use super::AppError;
use crate::auth::{issue_token, Accounts, FailureLimiter, PasswordVerifier, User};
use crate::domain::{
    Clock, DeviceClass, DeviceName, Lifetimes, OnLimit, Origin, PasswordFingerprint, Policy,
    Session, Token, Username,
};
use crate::metrics::Metrics;
use crate::store::{SessionStore, SignInOutcome, SignInRequest};

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

/// A successful sign-in: the new session, its token (shown once), the
/// account from the users file (`None` for a trusted backend's subject) and
/// the sessions it pushed out.
pub struct SignedIn {
    pub session: Session,
    pub token: Token,
    pub user: Option<User>,
    pub revoked: Vec<Session>,
}

/// A session to create, once the caller has been believed (a password that
/// matched, or a trusted backend's word).
pub(crate) struct NewSession {
    pub username: Username,
    pub device: Option<DeviceName>,
    pub device_class: Option<DeviceClass>,
    pub meta: ClientMeta,
    pub origin: Origin,
    pub password: Option<PasswordFingerprint>,
}

/// Everything sign-in needs; one per instance.
pub struct SignInService {
    pub accounts: Arc<Accounts>,
    pub verifier: PasswordVerifier,
    pub limiter: Arc<FailureLimiter>,
    pub policy: Policy,
    pub lifetimes: Lifetimes,
    pub store: Arc<dyn SessionStore>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
}

impl SignInService {
    /// The policy for `username`: the global one with the overrides of its
    /// users-file entry, if it has one.
    fn policy_for(&self, username: &Username) -> Policy {
        let users = self.accounts.current();
        let user = users.get(username);
        Policy {
            max_sessions: user
                .and_then(|u| u.max_sessions)
                .unwrap_or(self.policy.max_sessions),
            on_limit: user
                .and_then(|u| u.on_limit)
                .unwrap_or(self.policy.on_limit),
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

    /// Creates a session a trusted backend vouches for: no password, the
    /// same policy, store step, pushes and audit as a password sign-in.
    pub(crate) async fn sign_in_trusted(&self, new: NewSession) -> Result<SignedIn, AppError> {
        let result = self.admit(new, None).await;
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

        let users = self.accounts.current();
        let user = users.get(&creds.username);
        // The check settles the ticket itself: this request may be cancelled
        // (client gone, request timeout) before the hash is done.
        let ok = self
            .verifier
            .verify(
                user.map(|u| u.password_hash.as_str()),
                &creds.password,
                ticket,
            )
            .await?;
        let user = match (ok, user) {
            (true, Some(user)) => user.clone(),
            _ => {
                tracing::info!(target: "audit", "sign-in refused: invalid credentials");
                return Err(AppError::InvalidCredentials);
            }
        };
        let new = NewSession {
            username: user.username.clone(),
            device: creds.device,
            device_class: None,
            meta,
            origin: Origin::Password,
            password: Some(user.password_fingerprint()),
        };
        self.admit(new, Some(user)).await
    }

    /// Issues the token and makes the one store step that applies the
    /// account's policy; then undoes a password session that a users-file
    /// reload overtook. Writes the audit line.
    async fn admit(&self, new: NewSession, user: Option<User>) -> Result<SignedIn, AppError> {
        let token = issue_token(&new.username)?;
        let now = self.clock.now();
        let ua = new.meta.user_agent.as_deref();
        let session = Session {
            session_id: token.session_id().clone(),
            device: DeviceName::given_or_derived(new.device, ua),
            device_class: Some(DeviceClass::given_or_derived(new.device_class, ua)),
            ip: new.meta.ip,
            user_agent: new.meta.user_agent.unwrap_or_default(),
            created_at: now,
            last_seen_at: now,
            expires_at: now.plus(self.lifetimes.absolute),
            token_hash: token.hash(),
            origin: new.origin,
            password: new.password,
            username: new.username,
        };
        let policy = self.policy_for(&session.username);
        let outcome = self
            .store
            .sign_in(SignInRequest {
                session: session.clone(),
                policy,
                now,
            })
            .await?;
        match outcome {
            SignInOutcome::Created { revoked } => {
                // A reload between the password check and the store write:
                // its reconcile may have looked before this session existed.
                if let Some(reason) = outdated(&self.accounts.current(), &session) {
                    end_outdated(self.store.as_ref(), &session, reason, now).await?;
                    tracing::info!(target: "audit", session_id = %session.session_id, "sign-in refused: the users file changed during it");
                    return Err(AppError::InvalidCredentials);
                }
                let ids: Vec<&str> = revoked.iter().map(|s| s.session_id.as_str()).collect();
                tracing::info!(target: "audit", session_id = %session.session_id, device = session.device.as_str(), origin = ?session.origin, revoked = ?ids, "signed in");
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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use async_trait::async_trait;

    use super::*;
    use crate::auth::RateLimits;
    use crate::domain::{AccountKey, Actor, Lookup, ManualClock, Millis, Reason, SessionId};
    use crate::events::LocalBus;
    use crate::store::{MemoryStore, StoreError};

    const LIFE: Lifetimes = Lifetimes::SAMPLE;

    fn users_file(password: &str) -> String {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let params = argon2::Params::new(64, 1, 1, None).unwrap();
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let hash = argon.hash_password(password.as_bytes(), &salt).unwrap();
        format!("[[users]]\nusername = \"alice\"\npassword_hash = \"{hash}\"\n")
    }

    /// A memory store that changes alice's password in the users file (and
    /// reloads it) just before it stores a sign-in: a SIGHUP landing between
    /// the password check and the store write.
    struct ReloadDuringSignIn {
        inner: MemoryStore,
        file: PathBuf,
        accounts: Arc<Accounts>,
    }

    #[async_trait]
    impl SessionStore for ReloadDuringSignIn {
        async fn sign_in(&self, req: SignInRequest) -> Result<SignInOutcome, StoreError> {
            std::fs::write(&self.file, users_file("changed")).unwrap();
            self.accounts.reload().unwrap();
            self.inner.sign_in(req).await
        }
        async fn validate(&self, token: &Token, now: Millis) -> Result<Lookup, StoreError> {
            self.inner.validate(token, now).await
        }
        async fn touch(
            &self,
            a: &AccountKey,
            id: &SessionId,
            now: Millis,
        ) -> Result<(), StoreError> {
            self.inner.touch(a, id, now).await
        }
        async fn revoke(
            &self,
            a: &AccountKey,
            id: &SessionId,
            reason: Reason,
            by: Option<Actor>,
            now: Millis,
        ) -> Result<Option<Session>, StoreError> {
            self.inner.revoke(a, id, reason, by, now).await
        }
        async fn locate(&self, id: &SessionId) -> Result<Option<AccountKey>, StoreError> {
            self.inner.locate(id).await
        }
        async fn revoke_account(
            &self,
            u: &Username,
            r: Reason,
            now: Millis,
        ) -> Result<usize, StoreError> {
            self.inner.revoke_account(u, r, now).await
        }
        async fn list(&self, a: &AccountKey, now: Millis) -> Result<Vec<Session>, StoreError> {
            self.inner.list(a, now).await
        }
        async fn list_all(&self, now: Millis) -> Result<Vec<Session>, StoreError> {
            self.inner.list_all(now).await
        }
        async fn check(
            &self,
            s: &[(AccountKey, SessionId)],
            now: Millis,
        ) -> Result<Vec<Lookup>, StoreError> {
            self.inner.check(s, now).await
        }
        async fn ping(&self) -> Result<(), StoreError> {
            self.inner.ping().await
        }
        async fn maintain(&self, now: Millis) -> Result<usize, StoreError> {
            self.inner.maintain(now).await
        }
    }

    #[tokio::test]
    async fn a_sign_in_overtaken_by_a_password_change_is_undone() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("users.toml");
        std::fs::write(&file, users_file("before")).unwrap();
        let accounts = Arc::new(Accounts::load(Some(&file)).unwrap());
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new());
        let inner = MemoryStore::new(LIFE, LocalBus::new());
        let service = SignInService {
            accounts: accounts.clone(),
            verifier: PasswordVerifier::new(1).unwrap(),
            limiter: FailureLimiter::new(
                RateLimits {
                    per_ip: 0,
                    per_account: 0,
                },
                clock.clone(),
            ),
            policy: Policy {
                max_sessions: 1,
                on_limit: OnLimit::KickOldest,
            },
            lifetimes: LIFE,
            store: Arc::new(ReloadDuringSignIn {
                inner: inner.clone(),
                file,
                accounts,
            }),
            clock: clock.clone(),
            metrics: Arc::new(Metrics::new()),
        };
        let creds = Credentials {
            username: Username::parse("alice").unwrap(),
            password: "before".into(),
            device: None,
        };
        let meta = ClientMeta {
            ip: "192.0.2.1".into(),
            user_agent: None,
        };
        let result = service.sign_in(creds, meta).await;
        assert!(matches!(result, Err(AppError::InvalidCredentials)));
        let alice = AccountKey::of(&Username::parse("alice").unwrap());
        assert!(inner.list(&alice, clock.now()).await.unwrap().is_empty());
    }
}
