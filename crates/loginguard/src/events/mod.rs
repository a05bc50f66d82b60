//! Store events and how they travel to every instance's connection hub.
//!
//! The store emits a `StoreEvent` in the same atomic step that changes an
//! account; a bus carries it to the `EventHandler` of every instance sharing
//! the store (in-process for memory, Redis pub/sub for Redis). Buses deliver
//! at most once, so each also calls `on_resync` whenever it may have missed
//! events, and the handler revalidates what it holds. Nothing here knows
//! about sockets.

mod health;
mod local;
mod redis_bus;

pub use health::BusHealth;
pub use local::LocalBus;
pub use redis_bus::{RedisBus, SubscribeTarget};

use serde::{Deserialize, Serialize};

use crate::domain::{Actor, Reason, SessionId, Username};

/// Something happened to an account's sessions.
///
/// Serialised as JSON on the Redis channel; the Lua scripts write the same
/// shape, so field names here are part of the stored format.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum StoreEvent {
    /// A session was created; `revoked` lost to it (reason
    /// `duplicate_login`), or it took the place of `replaced` (the same
    /// device signing in again, reason `replaced`).
    SignedIn {
        #[serde(rename = "u")]
        username: Username,
        id: SessionId,
        #[serde(default)]
        revoked: Vec<SessionId>,
        #[serde(rename = "rp", default, skip_serializing_if = "Option::is_none")]
        replaced: Option<SessionId>,
        by: Actor,
    },
    /// Sessions ended for `reason`.
    Revoked {
        #[serde(rename = "u")]
        username: Username,
        ids: Vec<SessionId>,
        #[serde(rename = "r")]
        reason: Reason,
        by: Option<Actor>,
        at: crate::domain::Millis,
    },
    /// A sign-in with the right password was refused by `deny_new`.
    LoginBlocked {
        #[serde(rename = "u")]
        username: Username,
        by: Actor,
    },
}

/// Receives events on each instance. Called from the bus's task or, for the
/// memory store, from the writer's task: must not block.
pub trait EventHandler: Send + Sync + 'static {
    fn on_event(&self, event: StoreEvent);
    /// Events may have been lost (the subscription dropped and came back).
    fn on_resync(&self);
}
