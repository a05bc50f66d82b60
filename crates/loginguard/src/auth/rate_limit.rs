//! Limits on FAILED sign-ins, per client IP and per account.
//!
//! Successful sign-ins are never counted (the session policy bounds them). A
//! `Ticket`, taken before the check and settled by the hashing job when the
//! hash is done (whether or not the client still waits), keeps failures plus
//! checks in flight under the limit, so a parallel burst cannot slip through;
//! a sign-in that finds only checks in flight ahead waits for them. Counters
//! are fixed one-minute windows in this process (N instances: N times the rate).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::domain::{Clock, Millis};

const WINDOW: Duration = Duration::from_secs(60);
/// How long a sign-in waits for checks in flight before it is refused.
const MAX_WAIT: Duration = Duration::from_secs(5);
/// Above this many tracked keys, stale windows are swept on the next failure.
const SWEEP_ABOVE: usize = 10_000;

/// Failed attempts allowed per minute; 0 turns a limit off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimits {
    pub per_ip: u32,
    pub per_account: u32,
}

#[derive(Default)]
struct Counter {
    window_start: u64,
    failures: u32,
    in_flight: u32,
}

/// Counts failures and checks in flight; shared behind an `Arc`.
pub struct FailureLimiter {
    limits: RateLimits,
    counters: Mutex<HashMap<String, Counter>>,
    settled: Notify,
    clock: Arc<dyn Clock>,
}

/// Permission to check one password, in flight until dropped. The hashing
/// job settles it: `failed` for a wrong password or a check nobody waited
/// for; dropping it counts nothing (a success, or a check refused before it
/// was queued).
pub struct Ticket {
    limiter: Arc<FailureLimiter>,
    keys: Vec<(String, u32)>,
    failed: bool,
}

enum Verdict {
    Admit,
    Wait,
    Refuse(Duration),
}

impl FailureLimiter {
    pub fn new(limits: RateLimits, clock: Arc<dyn Clock>) -> Arc<Self> {
        Arc::new(FailureLimiter {
            limits,
            counters: Mutex::new(HashMap::new()),
            settled: Notify::new(),
            clock,
        })
    }

    /// A ticket for one password check, or how long to wait before retrying.
    pub async fn admit(self: &Arc<Self>, ip: &str, account: &str) -> Result<Ticket, Duration> {
        let keys: Vec<(String, u32)> = [
            (format!("ip:{ip}"), self.limits.per_ip),
            (format!("user:{account}"), self.limits.per_account),
        ]
        .into_iter()
        .filter(|(_, limit)| *limit > 0)
        .collect();
        let deadline = tokio::time::Instant::now() + MAX_WAIT;
        loop {
            let settled = self.settled.notified();
            match self.try_admit(&keys, self.clock.now()) {
                Verdict::Admit => {
                    return Ok(Ticket {
                        limiter: self.clone(),
                        keys,
                        failed: false,
                    })
                }
                Verdict::Refuse(retry) => return Err(retry),
                Verdict::Wait => {
                    if tokio::time::timeout_at(deadline, settled).await.is_err() {
                        return Err(Duration::from_secs(1));
                    }
                }
            }
        }
    }

    fn try_admit(&self, keys: &[(String, u32)], now: Millis) -> Verdict {
        let window = WINDOW.as_millis() as u64;
        let mut counters = self.counters.lock();
        let mut wait = false;
        for (key, limit) in keys {
            let Some(c) = counters.get_mut(key) else {
                continue;
            };
            if c.window_start + window <= now.0 {
                c.window_start = now.0;
                c.failures = 0;
            }
            if c.failures >= *limit {
                let left = (c.window_start + window).saturating_sub(now.0);
                return Verdict::Refuse(Duration::from_millis(left.max(1)));
            }
            wait |= c.failures + c.in_flight >= *limit;
        }
        if wait {
            return Verdict::Wait;
        }
        if counters.len() > SWEEP_ABOVE {
            counters.retain(|_, c| c.in_flight > 0 || c.window_start + window > now.0);
        }
        for (key, _) in keys {
            let c = counters.entry(key.clone()).or_insert_with(|| Counter {
                window_start: now.0,
                ..Counter::default()
            });
            c.in_flight += 1;
        }
        Verdict::Admit
    }
}

impl Ticket {
    /// The password was wrong: count it against the IP and the account.
    pub fn failed(mut self) {
        self.failed = true;
    }

    /// A ticket no limit watches, for tests of the password check alone.
    #[cfg(test)]
    pub(crate) fn unlimited() -> Ticket {
        let limits = RateLimits {
            per_ip: 0,
            per_account: 0,
        };
        let clock = Arc::new(crate::domain::ManualClock::new());
        Ticket {
            limiter: FailureLimiter::new(limits, clock),
            keys: Vec::new(),
            failed: false,
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let now = self.limiter.clock.now().0;
        let window = WINDOW.as_millis() as u64;
        let mut counters = self.limiter.counters.lock();
        for (key, _) in &self.keys {
            if let Some(c) = counters.get_mut(key) {
                c.in_flight = c.in_flight.saturating_sub(1);
                if self.failed {
                    if c.window_start + window <= now {
                        c.window_start = now;
                        c.failures = 0;
                    }
                    c.failures += 1;
                }
            }
        }
        drop(counters);
        self.limiter.settled.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ManualClock;

    fn limiter(per_ip: u32, per_account: u32) -> (Arc<FailureLimiter>, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new());
        (
            FailureLimiter::new(
                RateLimits {
                    per_ip,
                    per_account,
                },
                clock.clone(),
            ),
            clock,
        )
    }

    #[tokio::test]
    async fn blocks_after_the_limit_until_the_window_ends() {
        let (l, clock) = limiter(3, 0);
        for _ in 0..3 {
            l.admit("1.2.3.4", "u").await.ok().unwrap().failed();
        }
        clock.advance(Duration::from_secs(10));
        let retry = l.admit("1.2.3.4", "u").await.err().unwrap();
        assert_eq!(retry, Duration::from_secs(50));
        assert!(
            l.admit("5.6.7.8", "u").await.is_ok(),
            "other IPs are unaffected"
        );
        clock.advance(Duration::from_secs(50));
        assert!(l.admit("1.2.3.4", "u").await.is_ok());
    }

    #[tokio::test]
    async fn successes_are_not_counted() {
        let (l, _) = limiter(2, 2);
        for _ in 0..10 {
            drop(l.admit("ip", "u").await.ok().unwrap());
        }
    }

    #[tokio::test]
    async fn a_parallel_burst_cannot_pass_the_limit() {
        let (l, _) = limiter(0, 3);
        let tickets: Vec<Ticket> = {
            let mut v = Vec::new();
            for _ in 0..3 {
                v.push(l.admit("a", "victim").await.ok().unwrap());
            }
            v
        };
        // A fourth waits while three checks are in flight...
        let fourth = tokio::spawn({
            let l = l.clone();
            async move { l.admit("b", "victim").await.map(|_| ()) }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!fourth.is_finished());
        // ...and is refused once they have failed.
        for t in tickets {
            t.failed();
        }
        assert!(fourth.await.unwrap().is_err());
        assert!(l.admit("c", "other").await.is_ok());
    }
}
