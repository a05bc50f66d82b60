//! Signed webhooks (PROTOCOL.md Part 2 "Webhooks"): the `--webhooks` file,
//! Standard Webhooks signatures, the delivery client and the dispatcher
//! that drives the store's outbox.
//!
//! `startup` builds a `Dispatcher` and spawns it; `run_webhook_reloads`
//! puts a changed file in force on SIGHUP; `check-config` calls
//! `EndpointSet::load`. Nothing here runs in a request: events come from
//! the audit trail the store writes in the same step as each change.

mod deliver;
mod dispatcher;
mod endpoints;
mod sign;

pub use deliver::{Attempt, Sender};
pub use dispatcher::Dispatcher;
pub use endpoints::{Endpoint, EndpointSet, Secret, Webhooks, SECRET_PREFIX};
pub use sign::signature_header;
