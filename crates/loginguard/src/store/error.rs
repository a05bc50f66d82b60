//! `StoreError`: the one error every store backend maps its failures into.
//!
//! `Unavailable`, `EventsNotHeard` and `Unsuitable` mean "try again later"
//! (or "fix the server") and become HTTP 503 `store_unavailable`; `Corrupt`
//! is a bug or foreign data and becomes a 500 with the cause logged. The
//! source error is always kept. A timed-out call may still have run; every
//! changing call is safe to send again (a re-run answers as the first run
//! did), and `app` undoes a sign-in it cannot confirm.

type Source = Box<dyn std::error::Error + Send + Sync>;

/// A store call failed; see the module comment for what may have run.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend cannot be reached or did not answer in time.
    #[error("session store unavailable")]
    Unavailable(#[source] Source),
    /// The store answers but this instance's event subscription is down, so
    /// its sockets could miss kicks (readiness only).
    #[error("not hearing the session store's events")]
    EventsNotHeard,
    /// The backend is not one loginguard may run on (readiness and start-up
    /// only): too old, or it may evict our keys.
    #[error("the session store's Redis is unsuitable")]
    Unsuitable(#[source] super::redis::RequirementError),
    /// The backend answered with something we cannot read.
    #[error("session store returned unreadable data")]
    Corrupt(#[source] Source),
}

impl StoreError {
    /// The backend could not be reached; keeps `source` for the log.
    pub fn unavailable(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Unavailable(Box::new(source))
    }

    /// The backend answered with something unusable.
    pub fn corrupt(what: impl Into<Source>) -> Self {
        StoreError::Corrupt(what.into())
    }

    /// A late run of a sign-in that was already undone: nothing was written.
    pub fn sign_in_undone() -> Self {
        StoreError::unavailable(SignInUndone)
    }
}

/// Why a sign-in answers `Unavailable` although the store answered: its
/// instance gave up waiting for it and undid it (`SessionStore::undo_sign_in`),
/// so this run, arriving late, did nothing.
#[derive(Debug, thiserror::Error)]
#[error("the sign-in was undone after its answer was lost")]
pub struct SignInUndone;
