//! `BusHealth`: whether this instance currently hears store events.
//!
//! Set by the bus (always true for the in-process one), read by `/readyz`:
//! an instance that cannot hear revocations must not take traffic, because
//! its sockets would not be kicked until the next sweep.

use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug)]
pub struct BusHealth(AtomicBool);

impl BusHealth {
    pub fn new(live: bool) -> Self {
        BusHealth(AtomicBool::new(live))
    }

    pub fn set(&self, live: bool) {
        self.0.store(live, Ordering::Relaxed);
    }

    pub fn is_live(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}
