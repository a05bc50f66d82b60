//! The failed-sign-in window: the pure rule behind every rate-limit counter.
//!
//! One `FailureWindow` per counted thing (an IP, an account, a trusted
//! device). The memory counter runs it under a lock; `failure_*.lua` mirror it
//! line for line, and the counter conformance suite checks that they agree.
//! Checks in flight are counted with the failures, so a parallel burst (on
//! any number of instances) cannot pass the limit; a check never settled (its
//! instance died) stops counting two windows after its own.

use std::time::Duration;

use super::Millis;

/// Failed sign-ins are counted in fixed windows this long.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// What a counter answers to "may I check one more password?".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Yes: the check is in flight in the window that started at `window`;
    /// settle it with that value.
    Admitted { window: Millis },
    /// Failures plus checks in flight reached the limit: ask again once some
    /// of those checks are done.
    Wait,
    /// The failures alone reached the limit, until the window ends.
    Refused { retry_after: Duration },
}

/// One counter's state. `Default` is a counter nothing has touched.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FailureWindow {
    /// When the current window started.
    pub start: Millis,
    /// Failures settled in the current window.
    pub failures: u32,
    /// Checks admitted in the current window and not settled yet.
    pub in_flight: u32,
    /// Checks admitted in the window before and not settled yet.
    pub carried: u32,
    /// When that window started (zero when nothing is carried).
    pub carried_from: Millis,
}

impl FailureWindow {
    /// Starts a new window once the current one is over. Checks of the window
    /// just ended are carried; older ones are forgotten, which is what bounds
    /// a check that is never settled.
    fn roll(&mut self, now: Millis) {
        if now < self.start.plus(FAILURE_WINDOW) {
            return;
        }
        let just_ended = now < self.start.plus(FAILURE_WINDOW * 2);
        (self.carried, self.carried_from) = if just_ended {
            (self.in_flight, self.start)
        } else {
            (0, Millis(0))
        };
        self.start = now;
        self.failures = 0;
        self.in_flight = 0;
    }

    /// Admits one check under `limit` failed sign-ins per window.
    pub fn admit(&mut self, limit: u32, now: Millis) -> Admission {
        self.roll(now);
        if self.failures >= limit {
            let left = self.start.plus(FAILURE_WINDOW).since(now).max(1);
            return Admission::Refused {
                retry_after: Duration::from_millis(left),
            };
        }
        if self.failures + self.in_flight + self.carried >= limit {
            return Admission::Wait;
        }
        self.in_flight += 1;
        Admission::Admitted { window: self.start }
    }

    /// Ends a check admitted in `window`, counting a failure in the current
    /// window when `failed`.
    pub fn settle(&mut self, window: Millis, failed: bool, now: Millis) {
        self.roll(now);
        if window == self.start {
            self.in_flight = self.in_flight.saturating_sub(1);
        } else if window == self.carried_from {
            self.carried = self.carried.saturating_sub(1);
        }
        if failed {
            self.failures += 1;
        }
    }

    /// Nothing here counts any more: forgetting it changes no answer.
    pub fn is_spent(&self, now: Millis) -> bool {
        let over = now >= self.start.plus(FAILURE_WINDOW);
        let long_over = now >= self.start.plus(FAILURE_WINDOW * 2);
        long_over || (over && self.in_flight == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Millis = Millis(1_000_000);

    fn at(secs: u64) -> Millis {
        T.plus(Duration::from_secs(secs))
    }

    fn admitted(w: &mut FailureWindow, limit: u32, now: Millis) -> Millis {
        match w.admit(limit, now) {
            Admission::Admitted { window } => window,
            other => panic!("expected admission, got {other:?}"),
        }
    }

    #[test]
    fn refuses_after_the_limit_until_the_window_ends() {
        let mut w = FailureWindow::default();
        for _ in 0..3 {
            let id = admitted(&mut w, 3, at(0));
            w.settle(id, true, at(0));
        }
        assert_eq!(
            w.admit(3, at(10)),
            Admission::Refused {
                retry_after: Duration::from_secs(50)
            }
        );
        assert!(matches!(w.admit(3, at(60)), Admission::Admitted { .. }));
    }

    #[test]
    fn checks_in_flight_make_others_wait_and_successes_count_nothing() {
        let mut w = FailureWindow::default();
        let a = admitted(&mut w, 2, at(0));
        let b = admitted(&mut w, 2, at(0));
        assert_eq!(w.admit(2, at(0)), Admission::Wait);
        w.settle(a, false, at(1));
        w.settle(b, true, at(1));
        assert_eq!((w.failures, w.in_flight), (1, 0));
        assert!(matches!(w.admit(2, at(1)), Admission::Admitted { .. }));
    }

    #[test]
    fn a_check_from_the_window_before_still_counts_and_its_failure_lands_now() {
        let mut w = FailureWindow::default();
        let old = admitted(&mut w, 1, at(0));
        assert_eq!(
            w.admit(1, at(61)),
            Admission::Wait,
            "carried into the new window"
        );
        w.settle(old, true, at(62));
        assert_eq!((w.failures, w.in_flight, w.carried), (1, 0, 0));
        assert!(matches!(w.admit(1, at(62)), Admission::Refused { .. }));
    }

    #[test]
    fn a_check_never_settled_stops_counting_two_windows_later() {
        let mut w = FailureWindow::default();
        let lost = admitted(&mut w, 1, at(0));
        assert_eq!(w.admit(1, at(61)), Admission::Wait);
        let next = admitted(&mut w, 1, at(130));
        w.settle(lost, false, at(131));
        assert_eq!(
            w.in_flight, 1,
            "a stale settle takes nothing from the current window"
        );
        w.settle(next, false, at(131));
        assert_eq!((w.in_flight, w.carried), (0, 0));
    }

    #[test]
    fn spent_windows_can_be_forgotten() {
        let mut w = FailureWindow::default();
        let id = admitted(&mut w, 5, at(0));
        assert!(!w.is_spent(at(61)), "a check is still in flight");
        w.settle(id, true, at(1));
        assert!(!w.is_spent(at(59)));
        assert!(w.is_spent(at(60)));
        assert!(FailureWindow::default().is_spent(T));
    }
}
