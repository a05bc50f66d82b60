//! `AppError`: every way a use case can end without its result.
//!
//! One variant per outcome a caller must tell apart; `http::error` maps each
//! to its PROTOCOL.md row and `ws` to a close code. Failures of the machinery
//! underneath (store, hashing, RNG) keep their cause as a source.

use std::time::Duration;

use crate::auth::AuthError;
use crate::domain::{Millis, Session, Tombstone};
use crate::store::StoreError;

/// The eviction ticket of an `ask` refusal, shown once to the waiting client.
#[derive(Debug)]
pub struct EvictionOffer {
    pub ticket: String,
    pub expires_at: Millis,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Wrong user name or password; both answer alike.
    #[error("invalid user name or password")]
    InvalidCredentials,
    /// Too many failed attempts from this IP or for this account.
    #[error("too many failed sign-in attempts")]
    RateLimited { retry_after: Duration },
    /// `deny_new` or `ask` refused the sign-in; these sessions hold the
    /// places. Under `ask`, `offer` is the eviction ticket.
    #[error("session limit reached")]
    SessionLimitReached {
        active: Vec<Session>,
        offer: Option<EvictionOffer>,
    },
    /// An eviction ticket that is unknown, used, expired or malformed.
    #[error("invalid eviction ticket")]
    InvalidTicket,
    /// No token, or one that names no session.
    #[error("no live session for this token")]
    Unauthorized,
    /// The token's session was revoked; the tombstone says why and by whom.
    #[error("the session was revoked")]
    SessionRevoked(Tombstone),
    /// The token's session passed its idle or absolute lifetime.
    #[error("the session expired")]
    SessionExpired { revoked_at: Millis },
    /// Signed in, but not allowed to do this (not an admin).
    #[error("not allowed for this account")]
    Forbidden,
    /// No such session (or not one of the caller's).
    #[error("no such session")]
    NotFound,
    /// A request parameter the use case cannot use (a cursor, a page size).
    #[error("{0}")]
    BadInput(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Auth(#[from] AuthError),
}
