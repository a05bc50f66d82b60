//! The signed-in caller's use cases: who am I, my sessions, sign out,
//! sign one of my sessions out.
//!
//! Called by the HTTP extractors and handlers with a parsed token or an
//! authenticated session; answers with plain values. Each change is one store
//! step; the audit log line is written here, once.

use std::sync::Arc;

use super::AppError;
use crate::auth::{Accounts, User, Users};
use crate::domain::{
    AccountKey, Actor, Clock, Lookup, Reason, Session, SessionId, Token, Username,
};
use crate::presence::Presence;
use crate::store::SessionStore;

/// A session as a list shows it: with its account, whether it is the
/// caller's own, and its open sockets on every instance.
pub struct ListedSession {
    pub session: Session,
    pub user: Option<User>,
    pub current: bool,
    pub connections: usize,
}

/// The caller's session and the account behind it.
pub struct CurrentSession {
    pub session: Session,
    pub user: Option<User>,
}

pub struct SessionService {
    pub store: Arc<dyn SessionStore>,
    pub accounts: Arc<Accounts>,
    pub presence: Arc<dyn Presence>,
    pub clock: Arc<dyn Clock>,
}

impl SessionService {
    /// The live session behind `token` (a use of it), or exactly why not:
    /// unknown, revoked (with the tombstone) or expired.
    pub async fn authenticate(&self, token: &Token) -> Result<Session, AppError> {
        match self.store.validate(token, self.clock.now()).await? {
            Lookup::Live(session) => Ok(session),
            Lookup::Ended(t) if t.reason == Reason::Expired => Err(AppError::SessionExpired {
                revoked_at: t.revoked_at,
            }),
            Lookup::Ended(t) => Err(AppError::SessionRevoked(t)),
            Lookup::Unknown => Err(AppError::Unauthorized),
        }
    }

    /// `session`, if its account is an administrator.
    pub fn require_admin(&self, session: Session) -> Result<Session, AppError> {
        let is_admin = self
            .accounts
            .current()
            .get(&session.username)
            .is_some_and(|u| u.is_admin);
        if is_admin {
            Ok(session)
        } else {
            Err(AppError::Forbidden)
        }
    }

    pub fn current(&self, session: Session) -> CurrentSession {
        let user = self.accounts.current().get(&session.username).cloned();
        CurrentSession { session, user }
    }

    /// The caller's account's live sessions, oldest first.
    pub async fn list_own(&self, me: &Session) -> Result<Vec<ListedSession>, AppError> {
        self.list_account(&me.username, Some(&me.session_id)).await
    }

    /// `username`'s live sessions, oldest first, with their sockets on every
    /// instance; `current` marks the caller's own.
    pub async fn list_account(
        &self,
        username: &Username,
        current: Option<&SessionId>,
    ) -> Result<Vec<ListedSession>, AppError> {
        let sessions = self
            .store
            .list(&AccountKey::of(username), self.clock.now())
            .await?;
        let users = self.accounts.current();
        Ok(listed(self.presence.as_ref(), &users, sessions, current).await)
    }

    /// Ends the caller's own session (reason `logout`).
    pub async fn sign_out(&self, me: &Session) -> Result<(), AppError> {
        self.store
            .revoke(
                &AccountKey::of(&me.username),
                &me.session_id,
                Reason::Logout,
                None,
                self.clock.now(),
            )
            .await?;
        tracing::info!(target: "audit", username = %me.username, session_id = %me.session_id, "signed out");
        Ok(())
    }

    /// Ends one of the caller's sessions: `revoked_by_user` with the caller
    /// as `by`, or a sign-out when it is the caller's own. Another account's
    /// session, or one that is not live, is `NotFound`.
    pub async fn revoke_own(&self, me: &Session, id: &SessionId) -> Result<(), AppError> {
        let now = self.clock.now();
        let (reason, by) = if *id == me.session_id {
            (Reason::Logout, None)
        } else {
            (Reason::RevokedByUser, Some(Actor::of(me, now)))
        };
        // Scoped to the caller's account key: another account's id is simply not found.
        let ended = self
            .store
            .revoke(&AccountKey::of(&me.username), id, reason, by, now)
            .await?;
        if ended.is_none() {
            return Err(AppError::NotFound);
        }
        tracing::info!(target: "audit", username = %me.username, by = %me.session_id, session_id = %id, ?reason, "session revoked by its owner");
        Ok(())
    }
}

/// `sessions` as lists show them: each with its account from `users`, its
/// open sockets on every instance (one presence call for them all), and
/// whether it is `current`.
pub(super) async fn listed(
    presence: &dyn Presence,
    users: &Users,
    sessions: Vec<Session>,
    current: Option<&SessionId>,
) -> Vec<ListedSession> {
    let keys: Vec<_> = sessions
        .iter()
        .map(|s| (s.username.clone(), s.session_id.clone()))
        .collect();
    let counts = presence.connections(&keys).await;
    sessions
        .into_iter()
        .zip(counts)
        .map(|(session, connections)| ListedSession {
            current: current == Some(&session.session_id),
            user: users.get(&session.username).cloned(),
            session,
            connections,
        })
        .collect()
}
