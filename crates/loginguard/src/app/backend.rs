//! Trusted backends (`/api/v1`): an application that signs its users in
//! itself and lets loginguard enforce the limit and push the kick.
//!
//! Called by the HTTP extractor (`authorize`: API key and scope) and the
//! `/api/v1` handlers. A backend's session goes through the same sign-in
//! step as a password one (`SignInService::sign_in_trusted`) with origin
//! `backend`, so users-file reloads leave it alone. Audit lines name the
//! API key, never show it.

use std::sync::Arc;

use super::sessions::{ListedSession, SessionService};
use super::sign_in::{ClientMeta, NewSession, SignInService, SignedIn};
use super::AppError;
use crate::auth::{ApiKey, ApiKeys, Scope};
use crate::domain::{
    ClientDeviceId, DeviceClass, DeviceName, Lookup, Origin, Reason, Session, SessionId, Token,
    Username,
};

/// A session a backend asks for.
pub struct TrustedSignIn {
    pub subject: Username,
    pub device: Option<DeviceName>,
    pub device_class: Option<DeviceClass>,
    pub device_id: Option<ClientDeviceId>,
    /// The end user's address and agent, as the backend saw them.
    pub meta: ClientMeta,
}

pub struct BackendService {
    pub keys: Arc<ApiKeys>,
    pub sign_in: Arc<SignInService>,
    pub sessions: Arc<SessionService>,
}

impl BackendService {
    /// The key behind `presented`, if it has `scope`: an unknown key is
    /// `Unauthorized`, a known one without the scope `Forbidden`.
    pub fn authorize(&self, presented: &str, scope: Scope) -> Result<Arc<ApiKey>, AppError> {
        let key = self.keys.find(presented).ok_or(AppError::Unauthorized)?;
        if key.allows(scope) {
            Ok(key)
        } else {
            tracing::info!(target: "audit", key = %key.name, scope = scope.as_str(), "API key refused: missing scope");
            Err(AppError::Forbidden)
        }
    }

    /// Signs `req.subject` in on the backend's word.
    #[tracing::instrument(skip_all, fields(key = %caller.name, username = %req.subject, ip = %req.meta.ip))]
    pub async fn create(&self, caller: &ApiKey, req: TrustedSignIn) -> Result<SignedIn, AppError> {
        self.sign_in
            .sign_in_trusted(NewSession {
                username: req.subject,
                device: req.device,
                device_class: req.device_class,
                device_id: req.device_id,
                meta: req.meta,
                origin: Origin::Backend,
                password: None,
            })
            .await
    }

    /// The subject's live sessions, whatever created them.
    pub async fn list(&self, subject: &Username) -> Result<Vec<ListedSession>, AppError> {
        self.sessions.list_account(subject, None).await
    }

    /// Ends every live session of `subject` (`revoked_by_app`); how many.
    pub async fn revoke_subject(
        &self,
        caller: &ApiKey,
        subject: &Username,
    ) -> Result<usize, AppError> {
        let store = &self.sessions.store;
        let revoked = store
            .revoke_account(subject, Reason::RevokedByApp, self.sessions.clock.now())
            .await?;
        tracing::info!(target: "audit", key = %caller.name, username = %subject, revoked, "a trusted backend signed a subject out");
        Ok(revoked)
    }

    /// Ends one live session by its id alone (`revoked_by_app`); `NotFound`
    /// when no live session has it.
    pub async fn revoke_session(&self, caller: &ApiKey, id: &SessionId) -> Result<(), AppError> {
        let store = &self.sessions.store;
        let account = store.locate(id).await?.ok_or(AppError::NotFound)?;
        let now = self.sessions.clock.now();
        let ended = store
            .revoke(&account, id, Reason::RevokedByApp, None, now)
            .await?
            .ok_or(AppError::NotFound)?;
        tracing::info!(target: "audit", key = %caller.name, username = %ended.username, session_id = %id, "a trusted backend ended a session");
        Ok(())
    }

    /// The live session behind `presented`, a use of it; `None` for
    /// anything that does not work now (RFC 7662 `active: false`).
    pub async fn introspect(&self, presented: &str) -> Result<Option<Session>, AppError> {
        let Ok(token) = Token::parse(presented.trim()) else {
            return Ok(None);
        };
        let now = self.sessions.clock.now();
        match self.sessions.store.validate(&token, now).await? {
            Lookup::Live(session) => Ok(Some(session)),
            Lookup::Ended(_) | Lookup::Unknown => Ok(None),
        }
    }
}
