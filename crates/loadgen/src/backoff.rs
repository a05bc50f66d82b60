//! The JS client's reconnect wait (clients/js/index.js `backoffDelay`),
//! reproduced so that a storm of loadgen sockets comes back the way a storm
//! of browsers would: `initial * factor^attempt`, capped at `max`, then
//! shortened by up to `jitter` of itself at random.

use std::time::Duration;

/// The JS client's defaults (`DEFAULTS.backoff`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    pub factor: f64,
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            factor: 2.0,
            jitter: 0.5,
        }
    }
}

impl Backoff {
    /// The wait before reconnect attempt `attempt` (0 for the first retry);
    /// `random` is uniform in [0, 1).
    pub fn delay(&self, attempt: u32, random: f64) -> Duration {
        let base = (self.initial.as_secs_f64() * self.factor.powi(attempt.min(64) as i32))
            .min(self.max.as_secs_f64());
        let jitter = self.jitter.clamp(0.0, 1.0);
        Duration::from_secs_f64(base * (1.0 - jitter * random.clamp(0.0, 1.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_js_client() {
        let b = Backoff::default();
        // backoffDelay(0, defaults, () => 0) === 500; (() => 0.999...) ~ 250.
        assert_eq!(b.delay(0, 0.0), Duration::from_millis(500));
        assert_eq!(b.delay(0, 0.5), Duration::from_millis(375));
        assert_eq!(b.delay(1, 0.0), Duration::from_millis(1000));
        assert_eq!(b.delay(3, 0.0), Duration::from_millis(4000));
        // Capped at max, then jittered.
        assert_eq!(b.delay(10, 0.0), Duration::from_secs(30));
        assert_eq!(b.delay(1000, 1.0), Duration::from_secs(15));
    }
}
