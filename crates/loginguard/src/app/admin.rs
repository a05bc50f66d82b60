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
use crate::store::{AuditPage, AuditQuery, SessionStore, SnapshotCache, StoreError};

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
    ///
    /// The walk runs in a task of its own and the caller only waits for it:
    /// an incident's sign-out must not stop partway because its request did
    /// (the request timeout, a client that hangs up). A second request would
    /// have its own start and also end sessions signed in since.
    pub async fn revoke_all(&self, admin: &Session) -> Result<usize, AppError> {
        let (store, snapshot) = (self.store.clone(), self.snapshot.clone());
        let (now, admin) = (self.clock.now(), admin.username.clone());
        let walk = tokio::spawn(async move {
            let started = std::time::Instant::now();
            let outcome = store.revoke_all(Reason::RevokedByAdmin, now).await;
            snapshot.invalidate().await;
            if let Ok(revoked) = outcome {
                tracing::warn!(target: "audit", admin = %admin, revoked, took_ms = started.elapsed().as_millis() as u64, "admin signed everyone out");
            }
            outcome
        });
        Ok(walk.await.map_err(StoreError::unavailable)??)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use super::*;
    use crate::domain::{Lifetimes, ManualClock, SessionId, Token};
    use crate::events::LocalBus;
    use crate::presence::{LocalPresence, LocalSockets};
    use crate::store::{MemoryStore, SignInRequest};

    struct NoSockets;

    impl LocalSockets for NoSockets {
        fn connections_of(&self, sessions: &[(Username, SessionId)]) -> Vec<usize> {
            vec![0; sessions.len()]
        }
        fn session_counts(&self) -> HashMap<SessionId, usize> {
            HashMap::new()
        }
        fn socket_count(&self) -> usize {
            0
        }
    }

    /// Session `i` of an account of its own, created at `at`.
    fn session_of_account(i: u16, at: Millis) -> Session {
        let (mut s, _) = Session::sample(1, at, Duration::from_secs(600));
        s.username = Username::parse(&format!("user{i}")).unwrap();
        let [lo, hi] = i.to_le_bytes();
        let token = Token::issue(
            &s.username,
            [lo, hi, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7],
            [lo; 32],
        );
        (s.session_id, s.token_hash) = (token.session_id().clone(), token.hash());
        s
    }

    #[tokio::test]
    async fn signing_everyone_out_finishes_when_its_request_gives_up() {
        let clock = Arc::new(ManualClock::new());
        let now = clock.now();
        let store: Arc<dyn SessionStore> =
            Arc::new(MemoryStore::new(Lifetimes::SAMPLE, LocalBus::new()));
        // More accounts than the memory store signs out between two yields,
        // so the walk is still going when its caller stops waiting.
        for i in 0..1_000 {
            let session = session_of_account(i, now);
            store
                .sign_in(SignInRequest::one_per_account(session))
                .await
                .unwrap();
        }
        let admin = AdminService {
            store: store.clone(),
            snapshot: Arc::new(SnapshotCache::new(
                store.clone(),
                clock.clone(),
                Duration::ZERO,
            )),
            accounts: Arc::new(Accounts::load(None).unwrap()),
            presence: Arc::new(LocalPresence::new(Arc::new(NoSockets))),
            clock: clock.clone(),
        };
        let caller = session_of_account(0, now);

        let gave_up = tokio::time::timeout(Duration::ZERO, admin.revoke_all(&caller)).await;
        assert!(gave_up.is_err(), "the request stopped waiting at once");
        let mut left = usize::MAX;
        for _ in 0..500 {
            left = store.list_all(now).await.unwrap().len();
            if left == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(left, 0, "every session ended all the same");
    }
}
