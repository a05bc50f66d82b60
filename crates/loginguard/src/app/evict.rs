//! The eviction use case (`on_limit = ask`): a refused sign-in comes back
//! with its ticket and the session it chose to sign out.
//!
//! Called by `POST /api/auth/login/evict`. The ticket names the account;
//! the store step (`SessionStore::redeem_ticket`) checks it, signs the
//! chosen session out and creates the waiting one in one atomic step, so a
//! ticket works once on any instance. The answer is a sign-in's: the new
//! session, its token and a fresh device token for a password account.

use super::reconcile::{end_outdated, outdated};
use super::sign_in::{result_label, SignInService, SignedIn, UndoOnDrop};
use super::AppError;
use crate::auth::issue_token_on;
use crate::domain::{EvictionTicket, FreshSession, Origin, SessionId};
use crate::metrics::SignInOrigin;
use crate::store::{RedeemOutcome, RedeemRequest};

impl SignInService {
    /// Redeems `ticket`, signing `chosen` out. `InvalidTicket` for a ticket
    /// that is unknown, used or expired; `NotFound` for a session id it did
    /// not offer; `SessionLimitReached` (no new ticket, the same one still
    /// works) when signing `chosen` out would no longer make room.
    #[tracing::instrument(skip_all, fields(session_id = %chosen))]
    pub async fn evict(
        &self,
        ticket: &EvictionTicket,
        chosen: SessionId,
    ) -> Result<SignedIn, AppError> {
        let result = self.redeem(ticket, chosen).await;
        self.metrics
            .sign_in(SignInOrigin::Ticket, result_label(&result));
        result
    }

    async fn redeem(
        &self,
        ticket: &EvictionTicket,
        chosen: SessionId,
    ) -> Result<SignedIn, AppError> {
        let account = ticket.account().clone();
        let token = issue_token_on(&account)?;
        let now = self.clock.now();
        let req = RedeemRequest {
            account: account.clone(),
            ticket: ticket.hash(),
            chosen,
            fresh: FreshSession {
                session_id: token.session_id().clone(),
                token_hash: token.hash(),
                expires_at: now.plus(self.lifetimes.absolute),
            },
            now,
        };
        let mut unconfirmed = UndoOnDrop {
            undo: &self.undo,
            sign_in: Some((account, token.session_id().clone())),
        };
        let outcome = self.store.redeem_ticket(req).await;
        if outcome.is_ok() {
            unconfirmed.sign_in = None;
        }
        match outcome? {
            RedeemOutcome::Created { session, revoked } => {
                self.metrics.eviction_ticket("redeemed");
                if let Some(reason) = outdated(&self.accounts.current(), &session) {
                    end_outdated(self.store.as_ref(), &session, reason, now).await?;
                    tracing::info!(target: "audit", session_id = %session.session_id, "eviction refused: the users file changed during it");
                    return Err(AppError::InvalidCredentials);
                }
                let user = self.accounts.current().get(&session.username).cloned();
                let device_token = match (&user, session.origin) {
                    (Some(_), Origin::Password) => Some(self.devices.issue(&session.username)?),
                    _ => None,
                };
                let ids: Vec<&str> = revoked.iter().map(|s| s.session_id.as_str()).collect();
                tracing::info!(target: "audit", username = %session.username, new_session = %session.session_id, revoked = ?ids, "signed in by eviction");
                Ok(SignedIn {
                    session: *session,
                    token,
                    user,
                    revoked,
                    replaced: None,
                    device_token,
                })
            }
            RedeemOutcome::InvalidTicket => Err(AppError::InvalidTicket),
            RedeemOutcome::ExpiredTicket => {
                self.metrics.eviction_ticket("expired");
                Err(AppError::InvalidTicket)
            }
            RedeemOutcome::NotOffered => Err(AppError::NotFound),
            RedeemOutcome::Denied { active } => Err(AppError::SessionLimitReached {
                active,
                offer: None,
            }),
        }
    }
}
