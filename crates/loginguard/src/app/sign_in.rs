//! The sign-in use case: device token -> rate limit -> password -> token ->
//! one store step -> a new device token.
//!
//! Called by the HTTP handler with parsed credentials, and by the trusted
//! backend use case (`backend.rs`) for the subjects it vouches for; callable
//! and tested without axum. The store's `sign_in` is the single atomic step
//! that applies the policy; a failed call is sent again with the same ids (a
//! re-run answers alike), then handed to the `UndoQueue`, so a 503 leaves
//! nothing behind. A valid device token for the account moves the attempt
//! from the account's failure counter to the device's own (OWASP "device
//! cookies"). A password session records the password it was made under,
//! for reloads of the users file. Records the result in the metrics and the
//! audit log, once, here.

use std::sync::Arc;
use std::time::Duration;

use super::error::EvictionOffer;
use super::policies::ConfiguredPolicies;
use super::reconcile::{end_outdated, outdated};
use super::undo::UndoQueue;
use super::AppError;
use crate::auth::{
    issue_token, Accounts, DeviceTokens, FailureLimiter, PasswordVerifier, Refusal, User,
};
use crate::domain::{
    AccountKey, ClientDeviceId, Clock, DeviceClass, DeviceName, DeviceToken, EvictionTicket,
    Lifetimes, OnLimit, Origin, PasswordFingerprint, Session, SessionId, Token, Username,
    TICKET_LIFETIME,
};
use crate::metrics::{Metrics, SignInOrigin};
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
    /// `web`, `mobile`, ...; derived from the User-Agent when missing.
    pub device_class: Option<DeviceClass>,
    /// The client's own id for this device: a live session with the same id
    /// is replaced rather than counted.
    pub device_id: Option<ClientDeviceId>,
    /// The device token an earlier sign-in on this account gave the client.
    pub device_token: Option<DeviceToken>,
}

/// Where the request came from.
#[derive(Clone, Debug)]
pub struct ClientMeta {
    pub ip: String,
    pub user_agent: Option<String>,
}

/// A successful sign-in: the new session, its token (shown once), the
/// account from the users file (`None` for a trusted backend's subject),
/// the sessions it pushed out (and the one of the same device it replaced),
/// and for a password sign-in a fresh device token for the client to keep.
pub struct SignedIn {
    pub session: Session,
    pub token: Token,
    pub user: Option<User>,
    pub revoked: Vec<Session>,
    pub replaced: Option<Box<Session>>,
    pub device_token: Option<DeviceToken>,
}

/// A session to create, once the caller has been believed (a password that
/// matched, or a trusted backend's word).
pub(crate) struct NewSession {
    pub username: Username,
    pub device: Option<DeviceName>,
    pub device_class: Option<DeviceClass>,
    pub device_id: Option<ClientDeviceId>,
    pub meta: ClientMeta,
    pub origin: Origin,
    pub password: Option<PasswordFingerprint>,
}

/// Everything sign-in needs; one per instance.
pub struct SignInService {
    pub accounts: Arc<Accounts>,
    pub verifier: PasswordVerifier,
    pub limiter: Arc<FailureLimiter>,
    pub devices: DeviceTokens,
    /// The policy handed to the store step, which lays the account's
    /// runtime override over it.
    pub policies: ConfiguredPolicies,
    pub lifetimes: Lifetimes,
    pub store: Arc<dyn SessionStore>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    pub undo: UndoQueue,
}

impl SignInService {
    /// Signs `creds` in from `meta`, or says why not.
    #[tracing::instrument(skip(self, creds, meta), fields(username = %creds.username, ip = %meta.ip))]
    pub async fn sign_in(
        &self,
        creds: Credentials,
        meta: ClientMeta,
    ) -> Result<SignedIn, AppError> {
        let result = self.attempt(creds, meta).await;
        self.metrics
            .sign_in(SignInOrigin::Password, result_label(&result));
        result
    }

    /// Creates a session a trusted backend vouches for: no password, the
    /// same policy, store step, pushes and audit as a password sign-in.
    pub(crate) async fn sign_in_trusted(&self, new: NewSession) -> Result<SignedIn, AppError> {
        let result = self.admit(new, None).await;
        self.metrics
            .sign_in(SignInOrigin::Backend, result_label(&result));
        result
    }

    async fn attempt(&self, creds: Credentials, meta: ClientMeta) -> Result<SignedIn, AppError> {
        // A forged, foreign or other account's token is as good as none.
        let device = creds
            .device_token
            .as_ref()
            .and_then(|t| self.devices.verify(&creds.username, t));
        let account = AccountKey::of(&creds.username);
        let ticket = self
            .limiter
            .admit(&meta.ip, &account, device.as_ref())
            .await
            .map_err(|refusal| match refusal {
                Refusal::TooManyFailures { retry_after } => {
                    tracing::info!(target: "audit", trusted_device = device.is_some(), "sign-in refused: rate limited");
                    AppError::RateLimited { retry_after }
                }
                Refusal::Store(e) => AppError::Store(e),
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
            (false, Some(_)) => {
                tracing::info!(target: "audit", "sign-in refused: invalid credentials");
                self.record_failure(&creds, &meta);
                return Err(AppError::InvalidCredentials);
            }
            _ => {
                tracing::info!(target: "audit", "sign-in refused: invalid credentials");
                return Err(AppError::InvalidCredentials);
            }
        };
        let new = NewSession {
            username: user.username.clone(),
            device: creds.device,
            device_class: creds.device_class,
            device_id: creds.device_id,
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
        // Only a password sign-in earns a device token (lock-out exemption).
        let device_token = match &user {
            Some(_) => Some(self.devices.issue(&new.username)?),
            None => None,
        };
        let now = self.clock.now();
        let ua = new.meta.user_agent.as_deref();
        let session = Session {
            session_id: token.session_id().clone(),
            device: DeviceName::given_or_derived(new.device, ua),
            device_class: Some(DeviceClass::given_or_derived(new.device_class, ua)),
            device_id: new.device_id,
            ip: new.meta.ip,
            user_agent: Session::stored_user_agent(ua),
            created_at: now,
            last_seen_at: now,
            expires_at: now.plus(self.lifetimes.absolute),
            token_hash: token.hash(),
            origin: new.origin,
            password: new.password,
            username: new.username,
        };
        let outcome = self
            .store_step(SignInRequest {
                session: session.clone(),
                policy: self.policies.of(&session.username),
                now,
            })
            .await?;
        match outcome {
            SignInOutcome::Created {
                revoked,
                replaced,
                on_limit,
            } => {
                self.metrics
                    .policy_outcome(match (&replaced, revoked.is_empty(), on_limit) {
                        (Some(_), _, _) => "replaced",
                        (None, true, _) => "admitted",
                        (None, false, OnLimit::KickOldest) => "kicked_oldest",
                        (None, false, OnLimit::DenyNew | OnLimit::Ask) => "evicted_stale",
                    });
                // A reload between the password check and the store write:
                // its reconcile may have looked before this session existed.
                if let Some(reason) = outdated(&self.accounts.current(), &session) {
                    end_outdated(self.store.as_ref(), &session, reason, now).await?;
                    tracing::info!(target: "audit", session_id = %session.session_id, "sign-in refused: the users file changed during it");
                    return Err(AppError::InvalidCredentials);
                }
                let ids: Vec<&str> = revoked.iter().map(|s| s.session_id.as_str()).collect();
                let replaced_id = replaced.as_ref().map(|s| s.session_id.as_str());
                tracing::info!(target: "audit", session_id = %session.session_id, device = session.device.as_str(), origin = ?session.origin, revoked = ?ids, replaced = ?replaced_id, "signed in");
                Ok(SignedIn {
                    session,
                    token,
                    user,
                    revoked,
                    replaced,
                    device_token,
                })
            }
            SignInOutcome::Denied { active, on_limit } => {
                debug_assert_ne!(on_limit, OnLimit::KickOldest);
                // Under `ask` the store kept the ticket under this token's
                // hash; the token itself never opens a session.
                let offer = (on_limit == OnLimit::Ask).then(|| EvictionOffer {
                    ticket: EvictionTicket::of(token).expose().to_owned(),
                    expires_at: now.plus(TICKET_LIFETIME),
                });
                if offer.is_some() {
                    self.metrics.policy_outcome("asked");
                    self.metrics.eviction_ticket("issued");
                } else {
                    self.metrics.policy_outcome("denied");
                }
                tracing::info!(target: "audit", asked = offer.is_some(), "sign-in refused: session limit reached");
                Err(AppError::SessionLimitReached { active, offer })
            }
        }
    }

    /// Appends a `sign_in_failed` entry for an account that exists, in the
    /// background: the answer must not wait for it, or a wrong password
    /// would take longer for an existing account than for an unknown one.
    fn record_failure(&self, creds: &Credentials, meta: &ClientMeta) {
        let store = self.store.clone();
        let username = creds.username.clone();
        let device = DeviceName::given_or_derived(creds.device.clone(), meta.user_agent.as_deref());
        let ip = meta.ip.clone();
        let now = self.clock.now();
        tokio::spawn(async move {
            if let Err(e) = store
                .record_failed_sign_in(&username, &device, &ip, now)
                .await
            {
                tracing::warn!(error = ?e, "cannot append a failed sign-in to the audit trail");
            }
        });
    }

    /// The store step, sent again with the same ids while the store cannot
    /// be reached; undone unless the store confirmed it.
    async fn store_step(&self, req: SignInRequest) -> Result<SignInOutcome, StoreError> {
        let mut unconfirmed = UndoOnDrop {
            undo: &self.undo,
            sign_in: Some((
                AccountKey::of(&req.session.username),
                req.session.session_id.clone(),
            )),
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
pub(super) struct UndoOnDrop<'a> {
    pub(super) undo: &'a UndoQueue,
    pub(super) sign_in: Option<(AccountKey, SessionId)>,
}

impl Drop for UndoOnDrop<'_> {
    fn drop(&mut self) {
        if let Some((account, id)) = self.sign_in.take() {
            self.undo.push(account, id);
        }
    }
}

/// The `result` label of the sign-in counter.
pub(super) fn result_label<T>(result: &Result<T, AppError>) -> &'static str {
    use crate::auth::AuthError;
    match result {
        Ok(_) => "ok",
        Err(AppError::InvalidCredentials) => "invalid_credentials",
        Err(AppError::RateLimited { .. }) => "rate_limited",
        Err(AppError::Auth(AuthError::Busy)) => "busy",
        Err(AppError::SessionLimitReached { .. }) => "session_limit_reached",
        Err(AppError::InvalidTicket) => "invalid_ticket",
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
    use crate::domain::{
        AccountKey, Actor, Lookup, ManualClock, Millis, Policy, PolicyOverride, Reason, SessionId,
    };
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
        async fn redeem_ticket(
            &self,
            req: crate::store::RedeemRequest,
        ) -> Result<crate::store::RedeemOutcome, StoreError> {
            self.inner.redeem_ticket(req).await
        }
        async fn policy_override(
            &self,
            a: &AccountKey,
        ) -> Result<Option<PolicyOverride>, StoreError> {
            self.inner.policy_override(a).await
        }
        async fn set_policy_override(
            &self,
            a: &AccountKey,
            value: Option<&PolicyOverride>,
        ) -> Result<bool, StoreError> {
            self.inner.set_policy_override(a, value).await
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
        async fn revoke_all(&self, r: Reason, now: Millis) -> Result<usize, StoreError> {
            self.inner.revoke_all(r, now).await
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
        async fn undo_sign_in(
            &self,
            account: &AccountKey,
            id: &SessionId,
            now: Millis,
        ) -> Result<bool, StoreError> {
            self.inner.undo_sign_in(account, id, now).await
        }
        async fn ping(&self) -> Result<(), StoreError> {
            self.inner.ping().await
        }
        async fn maintain(&self, now: Millis) -> Result<usize, StoreError> {
            self.inner.maintain(now).await
        }
        async fn record_failed_sign_in(
            &self,
            u: &Username,
            d: &DeviceName,
            ip: &str,
            now: Millis,
        ) -> Result<(), StoreError> {
            self.inner.record_failed_sign_in(u, d, ip, now).await
        }
        async fn audit(
            &self,
            q: &crate::store::AuditQuery,
        ) -> Result<crate::store::AuditPage, StoreError> {
            self.inner.audit(q).await
        }
        async fn audit_after(
            &self,
            after: Option<crate::domain::AuditId>,
            limit: usize,
        ) -> Result<Vec<crate::domain::AuditEntry>, StoreError> {
            self.inner.audit_after(after, limit).await
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
            policies: ConfiguredPolicies {
                accounts: accounts.clone(),
                flags: Policy {
                    max_sessions: 1,
                    on_limit: OnLimit::KickOldest,
                    class_limits: Default::default(),
                    stale_after: None,
                },
            },
            verifier: PasswordVerifier::new(1).unwrap(),
            limiter: FailureLimiter::new(
                RateLimits {
                    per_ip: 0,
                    per_account: 0,
                },
                Arc::new(crate::store::MemoryFailures::new()),
                clock.clone(),
            ),
            devices: crate::auth::DeviceTokens::new(&[7; 32]),
            lifetimes: LIFE,
            store: Arc::new(ReloadDuringSignIn {
                inner: inner.clone(),
                file,
                accounts,
            }),
            clock: clock.clone(),
            metrics: Arc::new(Metrics::new()),
            undo: super::super::undo_queue(Arc::new(inner.clone()), clock.clone()).0,
        };
        let creds = Credentials {
            username: Username::parse("alice").unwrap(),
            password: "before".into(),
            device: None,
            device_class: None,
            device_id: None,
            device_token: None,
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
