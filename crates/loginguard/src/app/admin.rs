//! Administration use cases: every live session, page by page, signing an
//! account out everywhere, signing everyone out (incident response), and
//! the audit trail, page by page.
//!
//! Called by the admin HTTP handlers once the caller is known to be an
//! administrator. Pages are cut from the shared snapshot (at most the admin
//! TTL old); socket counts are joined from presence for the page only.

use std::sync::Arc;

use super::cursor::{Cursor, PageRequest};
use super::sessions::{listed, ListedSession};
use super::AppError;
use crate::auth::Accounts;
use crate::domain::{Clock, Millis, Reason, Session, Username};
use crate::presence::Presence;
use crate::store::{AuditPage, AuditQuery, SessionStore, SnapshotCache};

/// One page of the admin list.
pub struct AdminPage {
    pub sessions: Vec<ListedSession>,
    /// Live sessions in the whole snapshot.
    pub count: usize,
    pub next_cursor: Option<String>,
    pub generated_at: Millis,
}

pub struct AdminService {
    pub store: Arc<dyn SessionStore>,
    pub snapshot: Arc<SnapshotCache>,
    pub accounts: Arc<Accounts>,
    pub presence: Arc<dyn Presence>,
    pub clock: Arc<dyn Clock>,
}

impl AdminService {
    pub async fn page(&self, request: PageRequest) -> Result<AdminPage, AppError> {
        let (generated_at, all) = self.snapshot.fresh().await?;
        let start = match &request.after {
            Some(cursor) => all.partition_point(|s| cursor.is_past(s)),
            None => 0,
        };
        let page: Vec<&Session> = all[start..].iter().take(request.limit).collect();
        let next_cursor = (start + page.len() < all.len())
            .then(|| page.last().map(|s| Cursor::after(s).encode()))
            .flatten();
        let page = page.into_iter().cloned().collect();
        let users = self.accounts.current();
        let sessions = listed(self.presence.as_ref(), &users, page, None).await;
        Ok(AdminPage {
            sessions,
            count: all.len(),
            next_cursor,
            generated_at,
        })
    }

    /// One page of the audit trail, newest first (`audit::audit_query`).
    pub async fn audit(&self, query: &AuditQuery) -> Result<AuditPage, AppError> {
        Ok(self.store.audit(query).await?)
    }

    /// Signs `raw` out everywhere (`revoked_by_admin`); returns how many
    /// sessions ended. A name that cannot exist (too long, control
    /// characters) has no sessions: the same answer as an unknown account.
    pub async fn revoke_account(&self, admin: &Session, raw: &str) -> Result<usize, AppError> {
        let revoked = match Username::parse(raw) {
            Ok(user) => {
                self.store
                    .revoke_account(&user, Reason::RevokedByAdmin, self.clock.now())
                    .await?
            }
            Err(_) => 0,
        };
        tracing::info!(target: "audit", admin = %admin.username, account = ?raw, revoked, "admin signed out an account");
        self.snapshot.invalidate().await;
        Ok(revoked)
    }

    /// Signs everyone out (`revoked_by_admin`), the calling administrator
    /// included: every session created up to now ends, one account at a
    /// time (`SessionStore::revoke_all`), and every socket is told through
    /// the usual revocation events. Returns how many sessions ended.
    pub async fn revoke_all(&self, admin: &Session) -> Result<usize, AppError> {
        let started = std::time::Instant::now();
        let outcome = self
            .store
            .revoke_all(Reason::RevokedByAdmin, self.clock.now())
            .await;
        self.snapshot.invalidate().await;
        let revoked = outcome?;
        tracing::warn!(target: "audit", admin = %admin.username, revoked, took_ms = started.elapsed().as_millis() as u64, "admin signed everyone out");
        Ok(revoked)
    }
}
