//! Limits on FAILED sign-ins, per client IP and per account.
//!
//! Successful sign-ins are never counted (the session policy bounds them).
//! Counters are fixed one-minute windows kept in this process: each instance
//! limits on its own, so N instances allow up to N times the rate; the limit
//! is a brake on guessing, not an exact quota. Checked before credentials.

use std::collections::HashMap;
use std::time::Duration;

use parking_lot::Mutex;

use crate::domain::Millis;

const WINDOW: Duration = Duration::from_secs(60);
/// Above this many tracked keys, stale windows are swept on the next failure.
const SWEEP_ABOVE: usize = 10_000;

/// Failed attempts allowed per minute; 0 turns a limit off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimits {
    pub per_ip: u32,
    pub per_account: u32,
}

#[derive(Default)]
struct Window {
    start: u64,
    count: u32,
}

/// Counts failures; cheap to share behind an `Arc`.
pub struct FailureLimiter {
    limits: RateLimits,
    windows: Mutex<HashMap<String, Window>>,
}

impl FailureLimiter {
    pub fn new(limits: RateLimits) -> Self {
        FailureLimiter {
            limits,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(retry_after)` when either the IP or the account is over its limit.
    pub fn check(&self, ip: &str, account: &str, now: Millis) -> Result<(), Duration> {
        let windows = self.windows.lock();
        let over = |key: String, limit: u32| -> Option<Duration> {
            let w = windows.get(&key)?;
            let left = (w.start + WINDOW.as_millis() as u64).saturating_sub(now.0);
            (limit > 0 && left > 0 && w.count >= limit).then(|| Duration::from_millis(left))
        };
        let retry = [
            over(format!("ip:{ip}"), self.limits.per_ip),
            over(format!("user:{account}"), self.limits.per_account),
        ]
        .into_iter()
        .flatten()
        .max();
        retry.map_or(Ok(()), Err)
    }

    /// Counts one failed attempt against the IP and the account.
    pub fn record_failure(&self, ip: &str, account: &str, now: Millis) {
        let mut windows = self.windows.lock();
        let window_ms = WINDOW.as_millis() as u64;
        if windows.len() > SWEEP_ABOVE {
            windows.retain(|_, w| w.start + window_ms > now.0);
        }
        for key in [format!("ip:{ip}"), format!("user:{account}")] {
            let w = windows.entry(key).or_default();
            if w.start + window_ms <= now.0 {
                *w = Window {
                    start: now.0,
                    count: 0,
                };
            }
            w.count += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_until_the_window_ends() {
        let l = FailureLimiter::new(RateLimits {
            per_ip: 3,
            per_account: 0,
        });
        let t = Millis(1_000_000);
        for _ in 0..3 {
            assert!(l.check("1.2.3.4", "u", t).is_ok());
            l.record_failure("1.2.3.4", "u", t);
        }
        let retry = l.check("1.2.3.4", "u", Millis(t.0 + 10_000)).unwrap_err();
        assert_eq!(retry, Duration::from_secs(50));
        assert!(
            l.check("5.6.7.8", "u", t).is_ok(),
            "other IPs are unaffected"
        );
        assert!(l.check("1.2.3.4", "u", Millis(t.0 + 60_000)).is_ok());
    }

    #[test]
    fn account_limit_spans_ips() {
        let l = FailureLimiter::new(RateLimits {
            per_ip: 0,
            per_account: 2,
        });
        let t = Millis(0);
        l.record_failure("a", "victim", t);
        l.record_failure("b", "victim", t);
        assert!(l.check("c", "victim", t).is_err());
        assert!(l.check("c", "other", t).is_ok());
    }
}
