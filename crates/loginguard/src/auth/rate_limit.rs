//! Limits on FAILED sign-ins, per client IP and per account (or per trusted
//! device, when a sign-in presents a valid device token). Successes are free.
//!
//! Counts live in a `store::FailureCounter` (this process, or Redis shared by
//! every instance). A `Ticket` is one check admitted in each counter, settled
//! by the hashing job whether or not the client still waits; checks in flight
//! count too, so a parallel burst cannot slip through, even over instances.
//! A sign-in that finds only checks in flight ahead waits for them.

use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::domain::{AccountKey, Admission, Clock, DeviceId, Millis};
use crate::store::{FailureCounter, FailureKey, StoreError};

/// How long a sign-in waits for checks in flight before it is refused.
const MAX_WAIT: Duration = Duration::from_secs(5);
/// How soon a waiting sign-in asks again when no check of this instance has
/// settled (the checks it waits for may run on another instance); doubles
/// up to `MAX_POLL`.
const FIRST_POLL: Duration = Duration::from_millis(20);
const MAX_POLL: Duration = Duration::from_millis(250);

/// Failed attempts allowed per minute; 0 turns a limit off. A trusted
/// device gets `per_account` of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimits {
    pub per_ip: u32,
    pub per_account: u32,
}

/// Why a password may not be checked now.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// Too many failures (or checks in flight, after waiting `MAX_WAIT`).
    #[error("too many failed sign-in attempts")]
    TooManyFailures { retry_after: Duration },
    /// The counter could not be asked; the store answers nothing else either.
    #[error("the failed-sign-in counter is unavailable")]
    Store(#[source] StoreError),
}

/// Admits password checks against the counters; shared behind an `Arc`.
pub struct FailureLimiter {
    limits: RateLimits,
    counter: Arc<dyn FailureCounter>,
    /// Fires whenever a check of this instance is settled.
    settled: Notify,
    clock: Arc<dyn Clock>,
}

/// Permission to check one password: the check is in flight in each counter
/// until the ticket is settled (or dropped, which counts nothing: a check
/// refused before it was queued). The hashing job settles it.
pub struct Ticket {
    limiter: Arc<FailureLimiter>,
    /// Each counter the check is in flight in, with the window it entered.
    admitted: Vec<(FailureKey, Millis)>,
    failed: bool,
    /// Runs once the counters have the outcome: the answer to the requester.
    then: Option<Box<dyn FnOnce() + Send>>,
    /// Settling talks to the store, on the runtime that admitted the check:
    /// the hashing job that settles it is a plain thread.
    runtime: Handle,
}

impl FailureLimiter {
    pub fn new(
        limits: RateLimits,
        counter: Arc<dyn FailureCounter>,
        clock: Arc<dyn Clock>,
    ) -> Arc<Self> {
        Arc::new(FailureLimiter {
            limits,
            counter,
            settled: Notify::new(),
            clock,
        })
    }

    /// A ticket for one password check from `ip` on `account`, charged to the
    /// trusted `device` instead of the account when there is one.
    pub async fn admit(
        self: &Arc<Self>,
        ip: &str,
        account: &AccountKey,
        device: Option<&DeviceId>,
    ) -> Result<Ticket, Refusal> {
        let on_account = match device {
            Some(d) => FailureKey::Device(account.clone(), d.clone()),
            None => FailureKey::Account(account.clone()),
        };
        let keys: Vec<(FailureKey, u32)> = [
            (FailureKey::Ip(ip.to_owned()), self.limits.per_ip),
            (on_account, self.limits.per_account),
        ]
        .into_iter()
        .filter(|(_, limit)| *limit > 0)
        .collect();
        let deadline = Instant::now() + MAX_WAIT;
        let mut poll = FIRST_POLL;
        loop {
            let settled = self.settled.notified();
            if let Some(admitted) = self.try_admit(&keys).await? {
                return Ok(Ticket {
                    limiter: self.clone(),
                    admitted,
                    failed: false,
                    then: None,
                    runtime: Handle::current(),
                });
            }
            let wake = deadline.min(Instant::now() + poll);
            let _ = tokio::time::timeout_at(wake, settled).await;
            if Instant::now() >= deadline {
                return Err(Refusal::TooManyFailures {
                    retry_after: Duration::from_secs(1),
                });
            }
            poll = (poll * 2).min(MAX_POLL);
        }
    }

    /// Admits the check in every counter, or in none: `None` means wait.
    /// A refusal wins over a wait, so a locked-out client is told at once.
    /// Taking back a partial admission wakes nobody: waiters woken by each
    /// other's take-backs would spin without ever yielding.
    async fn try_admit(
        &self,
        keys: &[(FailureKey, u32)],
    ) -> Result<Option<Vec<(FailureKey, Millis)>>, Refusal> {
        let now = self.clock.now();
        let mut admitted = Vec::new();
        let mut wait = false;
        for (key, limit) in keys {
            let refusal = match self.counter.admit(key, *limit, now).await {
                Ok(Admission::Admitted { window }) => {
                    admitted.push((key.clone(), window));
                    continue;
                }
                Ok(Admission::Wait) => {
                    wait = true;
                    continue;
                }
                Ok(Admission::Refused { retry_after }) => Refusal::TooManyFailures { retry_after },
                Err(e) => Refusal::Store(e),
            };
            self.settle(&admitted, false).await;
            return Err(refusal);
        }
        if wait {
            self.settle(&admitted, false).await;
            return Ok(None);
        }
        Ok(Some(admitted))
    }

    /// Ends one check in each of its counters. A counter the store cannot
    /// reach keeps the check in flight until it is two windows old.
    async fn settle(&self, admitted: &[(FailureKey, Millis)], failed: bool) {
        let now = self.clock.now();
        for (key, window) in admitted {
            if let Err(e) = self.counter.settle(key, *window, failed, now).await {
                tracing::warn!(error = ?e, failed, "a password check could not be settled in its failure counter");
            }
        }
    }
}

impl Ticket {
    /// The check is done: counts a failure when `failed`, then runs `then`
    /// (the answer to the requester), so a client that retries at once, on
    /// any instance, finds its failure counted. Returns at once.
    pub fn settle(mut self, failed: bool, then: impl FnOnce() + Send + 'static) {
        self.failed = failed;
        self.then = Some(Box::new(then));
        // Dropping does the work.
    }

    /// A ticket no limit watches, for tests of the password check alone.
    #[cfg(test)]
    pub(crate) fn unlimited() -> Ticket {
        let limits = RateLimits {
            per_ip: 0,
            per_account: 0,
        };
        let clock = Arc::new(crate::domain::ManualClock::new());
        let counter = Arc::new(crate::store::MemoryFailures::new());
        Ticket {
            limiter: FailureLimiter::new(limits, counter, clock),
            admitted: Vec::new(),
            failed: false,
            then: None,
            runtime: Handle::current(),
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let limiter = self.limiter.clone();
        let admitted = std::mem::take(&mut self.admitted);
        let (failed, then) = (self.failed, self.then.take());
        self.runtime.spawn(async move {
            limiter.settle(&admitted, failed).await;
            limiter.settled.notify_waiters();
            if let Some(then) = then {
                then();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ManualClock, Username};
    use crate::store::MemoryFailures;

    fn limiter(per_ip: u32, per_account: u32) -> (Arc<FailureLimiter>, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new());
        let limits = RateLimits {
            per_ip,
            per_account,
        };
        let counter = Arc::new(MemoryFailures::new());
        (FailureLimiter::new(limits, counter, clock.clone()), clock)
    }

    fn account(name: &str) -> AccountKey {
        AccountKey::of(&Username::parse(name).unwrap())
    }

    /// Admits one check and settles it as a failure.
    async fn fail(l: &Arc<FailureLimiter>, ip: &str, device: Option<&DeviceId>) {
        let ticket = l.admit(ip, &account("u"), device).await.unwrap();
        ticket.settle(true, || ());
    }

    async fn refused(l: &Arc<FailureLimiter>, ip: &str, device: Option<&DeviceId>) -> Duration {
        match l.admit(ip, &account("u"), device).await {
            Err(Refusal::TooManyFailures { retry_after }) => retry_after,
            Err(e) => panic!("{e:?}"),
            Ok(_) => panic!("admitted"),
        }
    }

    #[tokio::test]
    async fn blocks_after_the_limit_until_the_window_ends() {
        let (l, clock) = limiter(3, 0);
        for _ in 0..3 {
            fail(&l, "1.2.3.4", None).await;
        }
        clock.advance(Duration::from_secs(10));
        assert_eq!(refused(&l, "1.2.3.4", None).await, Duration::from_secs(50));
        assert!(
            l.admit("5.6.7.8", &account("u"), None).await.is_ok(),
            "other IPs are unaffected"
        );
        clock.advance(Duration::from_secs(50));
        assert!(l.admit("1.2.3.4", &account("u"), None).await.is_ok());
    }

    #[tokio::test]
    async fn successes_are_not_counted() {
        let (l, _) = limiter(2, 2);
        for _ in 0..10 {
            let ticket = l.admit("ip", &account("u"), None).await.unwrap();
            ticket.settle(false, || ());
        }
    }

    #[tokio::test]
    async fn a_parallel_burst_cannot_pass_the_limit() {
        let (l, _) = limiter(0, 3);
        let victim = account("victim");
        let mut tickets = Vec::new();
        for _ in 0..3 {
            tickets.push(l.admit("a", &victim, None).await.unwrap());
        }
        // A fourth waits while three checks are in flight...
        let fourth = tokio::spawn({
            let (l, victim) = (l.clone(), victim.clone());
            async move { l.admit("b", &victim, None).await.map(|_| ()) }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!fourth.is_finished());
        // ...and is refused once they have failed.
        for t in tickets {
            t.settle(true, || ());
        }
        assert!(fourth.await.unwrap().is_err());
        assert!(l.admit("c", &account("other"), None).await.is_ok());
    }

    #[tokio::test]
    async fn a_trusted_device_has_its_own_allowance_and_loses_it_alike() {
        let (l, _) = limiter(0, 2);
        let device = DeviceId::from_bytes([5; 16]);
        fail(&l, "attacker", None).await;
        fail(&l, "attacker", None).await;
        refused(&l, "owner", None).await;
        // The owner's device is not locked out by the attacker's failures...
        fail(&l, "owner", Some(&device)).await;
        fail(&l, "owner", Some(&device)).await;
        // ...until it fails too often itself; other devices are unaffected.
        refused(&l, "owner", Some(&device)).await;
        let other = DeviceId::from_bytes([6; 16]);
        assert!(l.admit("owner", &account("u"), Some(&other)).await.is_ok());
    }
}
