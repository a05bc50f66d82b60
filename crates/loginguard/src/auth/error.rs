//! `AuthError`: the ways a sign-in can fail before or after the store.
//!
//! `http::error` maps each variant to its PROTOCOL.md row; nothing here knows
//! about status codes.

use std::time::Duration;

use crate::domain::Session;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Wrong user name or password; both answer alike.
    #[error("invalid user name or password")]
    InvalidCredentials,
    /// Too many failed attempts from this IP or for this account.
    #[error("too many failed sign-in attempts")]
    RateLimited { retry_after: Duration },
    /// `deny_new` refused the sign-in; these sessions hold the places.
    #[error("session limit reached")]
    SessionLimitReached { active: Vec<Session> },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Too many password checks are already waiting for a hashing thread.
    #[error("too many sign-ins in progress")]
    Busy,
    /// The password hashing task could not run (runtime shutting down).
    #[error("password verification failed to run")]
    Hashing(String),
}
