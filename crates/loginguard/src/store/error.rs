//! `StoreError`: the one error every store backend maps its failures into.
//!
//! Only `Unavailable` means "try again later" and becomes HTTP 503
//! `store_unavailable`; `Corrupt` is a bug or foreign data and becomes a 500
//! with the cause logged. The source error is kept for the log.

/// A store call failed; nothing was changed unless the variant says so.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend cannot be reached or did not answer in time.
    #[error("session store unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The backend answered with something we cannot read.
    #[error("session store returned unreadable data: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// The backend could not be reached; keeps `source` for the log.
    pub fn unavailable(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Unavailable(Box::new(source))
    }

    /// The backend answered with something unusable.
    pub fn corrupt(what: impl std::fmt::Display) -> Self {
        StoreError::Corrupt(what.to_string())
    }
}
