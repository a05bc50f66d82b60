//! Failed-sign-in counters: where `auth::FailureLimiter` keeps its windows.
//!
//! One narrow trait, beside `SessionStore` rather than in it: counters are
//! not sessions and emit no events. `MemoryFailures` counts in this process
//! (one instance: its own limits); `RedisStore` counts in Redis, so every
//! instance on one store shares one count. Each call is one atomic step on
//! one counter (`domain::FailureWindow`); counters are independent, so a
//! sign-in that checks two makes two calls (two slots on a cluster).

use std::collections::HashMap;

use async_trait::async_trait;
use parking_lot::Mutex;

use super::StoreError;
use crate::domain::{AccountKey, Admission, DeviceId, FailureWindow, Millis};

/// Above this many counters, spent ones are forgotten on the next admission.
const SWEEP_ABOVE: usize = 10_000;

/// What one counter counts failures against.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FailureKey {
    /// A client IP, as the HTTP layer resolved it.
    Ip(String),
    /// An account, for clients without a trusted device token.
    Account(AccountKey),
    /// One trusted device of an account (its signed device token's id).
    Device(AccountKey, DeviceId),
}

/// Counts failed sign-ins and checks in flight, per key, in fixed windows.
#[async_trait]
pub trait FailureCounter: Send + Sync + 'static {
    /// Admits one password check on `key` under `limit` failures per window
    /// (`FailureWindow::admit`), in one atomic step.
    async fn admit(
        &self,
        key: &FailureKey,
        limit: u32,
        now: Millis,
    ) -> Result<Admission, StoreError>;

    /// Ends a check admitted in `window`, counting a failure when `failed`.
    async fn settle(
        &self,
        key: &FailureKey,
        window: Millis,
        failed: bool,
        now: Millis,
    ) -> Result<(), StoreError>;
}

/// Counters in this process: the memory store's companion.
#[derive(Default)]
pub struct MemoryFailures {
    windows: Mutex<HashMap<FailureKey, FailureWindow>>,
}

impl MemoryFailures {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl FailureCounter for MemoryFailures {
    async fn admit(
        &self,
        key: &FailureKey,
        limit: u32,
        now: Millis,
    ) -> Result<Admission, StoreError> {
        let mut windows = self.windows.lock();
        if windows.len() > SWEEP_ABOVE {
            windows.retain(|_, w| !w.is_spent(now));
        }
        Ok(windows.entry(key.clone()).or_default().admit(limit, now))
    }

    async fn settle(
        &self,
        key: &FailureKey,
        window: Millis,
        failed: bool,
        now: Millis,
    ) -> Result<(), StoreError> {
        let mut windows = self.windows.lock();
        windows
            .entry(key.clone())
            .or_default()
            .settle(window, failed, now);
        Ok(())
    }
}
