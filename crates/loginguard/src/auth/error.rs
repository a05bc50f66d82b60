//! `AuthError`: failures of the password and token machinery.
//!
//! `app` wraps it in `AppError`; nothing here knows about status codes.
//! Every variant that comes from below keeps its cause.

/// The machinery of authentication failed; the credentials were not judged.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Too many password checks are already waiting for a hashing thread.
    #[error("too many sign-ins in progress")]
    Busy,
    /// A password could not be hashed or checked (a thread could not start,
    /// or the hashing task stopped before answering).
    #[error("password hashing failed")]
    Hashing(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The operating system's random number generator failed.
    #[error("the random number generator failed")]
    Rng(#[source] getrandom::Error),
}

impl AuthError {
    pub fn hashing(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        AuthError::Hashing(source.into())
    }
}
