//! Presence: how many sockets each session has open, on every instance.
//!
//! Read by `app` for the `connections` field of session lists. A separate,
//! narrow interface from the store and the event bus: counts are advisory
//! (a crashed instance's sockets vanish from them after a few seconds), while
//! sessions and kicks are exact. `LocalPresence` serves the single-instance
//! memory store; `RedisPresence` adds up every live instance's published counts.

mod local;
mod redis_presence;

pub use local::LocalPresence;
pub use redis_presence::RedisPresence;

use std::collections::HashMap;

use async_trait::async_trait;

use crate::domain::{SessionId, Username};

/// This instance's open sockets, as the connection hub knows them. A narrow
/// view so that presence (and the app) need not know the hub itself.
pub trait LocalSockets: Send + Sync + 'static {
    /// Open sockets here of each session, in the order asked.
    fn connections_of(&self, sessions: &[(Username, SessionId)]) -> Vec<usize>;
    /// Open sockets here per session.
    fn session_counts(&self) -> HashMap<SessionId, usize>;
    /// Open sockets here in all.
    fn socket_count(&self) -> usize;
}

#[async_trait]
pub trait Presence: Send + Sync + 'static {
    /// Open sockets of each session across all instances, in the order asked.
    /// Never fails: when remote counts cannot be read, local ones are given.
    async fn connections(&self, sessions: &[(Username, SessionId)]) -> Vec<usize>;
}
