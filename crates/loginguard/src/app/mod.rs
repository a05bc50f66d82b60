//! The application layer: every use case, in one place, callable and tested
//! without axum (trusted backends' `/api/v1` included), and the reload tasks
//! that keep sessions in line with the users file and the API keys current.
//!
//! Called by `http` (handlers and extractors) after they parse a request;
//! calls `auth`, `store`, `presence` and `events`, never `http` or `ws`. Each
//! use case returns plain values or an `AppError`; the edge decides what
//! they look like on the wire. Audit log lines are written here, once per
//! change.

mod admin;
mod audit;
mod backend;
mod cursor;
mod error;
mod evict;
mod operations;
mod policies;
mod reconcile;
mod reload;
mod sessions;
mod sign_in;
mod undo;
pub mod webhooks;

pub use admin::{AdminPage, AdminService};
pub use audit::{audit_query, list_audit, ListError, Listing};
pub use backend::{BackendService, TrustedSignIn};
pub use cursor::{Cursor, PageRequest};
pub use error::{AppError, EvictionOffer};
pub use operations::Operations;
pub use policies::{AccountPolicy, ConfiguredPolicies, PolicyService};
pub use reconcile::{Reconciled, Reconciler};
pub use reload::{run_key_reloads, run_reloads, run_webhook_reloads, ReloadHandle, ReloadRequests};
pub use sessions::{CurrentSession, ListedSession, SessionService};
pub use sign_in::{ClientMeta, Credentials, SignInService, SignedIn};
pub use undo::{undo_queue, UndoQueue, UndoWorker};
