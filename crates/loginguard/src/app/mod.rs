//! The application layer: every use case, in one place, callable and tested
//! without axum.
//!
//! Called by `http` (handlers and extractors) after they parse a request;
//! calls `auth`, `store`, `presence` and `events`, never `http` or `ws`. Each
//! use case returns plain values or an `AppError`; the edge decides what
//! they look like on the wire. Audit log lines are written here, once per
//! change.

mod admin;
mod cursor;
mod error;
mod operations;
mod sessions;
mod sign_in;
mod undo;

pub use admin::{AdminPage, AdminService};
pub use cursor::{Cursor, PageRequest};
pub use error::AppError;
pub use operations::Operations;
pub use sessions::{CurrentSession, ListedSession, SessionService};
pub use sign_in::{ClientMeta, Credentials, SignInService, SignedIn};
pub use undo::{undo_queue, UndoQueue, UndoWorker};
