//! `LocalBus`: the in-process event path used with the memory store.
//!
//! The memory store calls `publish` after it releases the account's lock; the
//! event goes straight to the registered handler in the same task, so it
//! cannot be lost (two writers may publish in either order, which is harmless:
//! each event names its own sessions). There is exactly one instance, so there
//! is nothing to resynchronise.

use std::sync::{Arc, OnceLock};

use super::{EventHandler, StoreEvent};

/// A direct call from the store to the hub.
#[derive(Default)]
pub struct LocalBus {
    handler: OnceLock<Arc<dyn EventHandler>>,
}

impl LocalBus {
    pub fn new() -> Arc<Self> {
        Arc::new(LocalBus::default())
    }

    /// Registers the one handler; later calls are ignored.
    pub fn attach(&self, handler: Arc<dyn EventHandler>) {
        let _ = self.handler.set(handler);
    }

    /// Delivers an event; before `attach` there is nobody to tell (no sockets).
    pub fn publish(&self, event: StoreEvent) {
        if let Some(h) = self.handler.get() {
            h.on_event(event);
        }
    }
}
