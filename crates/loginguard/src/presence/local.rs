//! `LocalPresence`: counts from this instance's hub only, which is the whole
//! truth when there is exactly one instance (the embedded memory store).

use std::sync::Arc;

use async_trait::async_trait;

use super::{LocalSockets, Presence};
use crate::domain::{SessionId, Username};

pub struct LocalPresence {
    hub: Arc<dyn LocalSockets>,
}

impl LocalPresence {
    pub fn new(hub: Arc<dyn LocalSockets>) -> Self {
        LocalPresence { hub }
    }
}

#[async_trait]
impl Presence for LocalPresence {
    async fn connections(&self, sessions: &[(Username, SessionId)]) -> Vec<usize> {
        self.hub.connections_of(sessions)
    }
}
