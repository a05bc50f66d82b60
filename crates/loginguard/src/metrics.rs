//! Prometheus metrics: one registry per instance, rendered by `GET /metrics`.
//!
//! Counters and histograms are recorded where things happen (sign-in
//! results in `http`, revocations in `ws::hub`, kick delivery and dropped
//! sockets in `ws::connection`, store calls in `store::timed`); gauges that are cheap to read on demand (open sockets,
//! live sessions) are set when the page is rendered. Labels are fixed,
//! short, static strings: never a user name, session id or token.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, &'static str)>;

/// Why the server dropped a socket instead of serving it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketDrop {
    /// A frame was not taken within `--ws-write-timeout`: its client stopped reading.
    WriteTimeout,
    /// Its session already had `--max-sockets-per-session` sockets here.
    TooManySockets,
}

impl SocketDrop {
    /// The `cause` label.
    pub const fn label(self) -> &'static str {
        match self {
            SocketDrop::WriteTimeout => "write_timeout",
            SocketDrop::TooManySockets => "too_many_sockets",
        }
    }
}

fn latency_histogram() -> Histogram {
    // 10 µs .. ~5 s, doubling.
    Histogram::new(exponential_buckets(0.000_01, 2.0, 20))
}

/// Every metric of one instance.
pub struct Metrics {
    registry: Registry,
    sign_ins: Family<Labels, Counter>,
    revocations: Family<Labels, Counter>,
    kick_delivery: Histogram,
    sockets_dropped: Family<Labels, Counter>,
    store_calls: Family<Labels, Histogram, fn() -> Histogram>,
    open_sockets: Gauge,
    live_sessions: Gauge,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("loginguard");
        let sign_ins = Family::<Labels, Counter>::default();
        registry.register("sign_ins", "Sign-in attempts by result", sign_ins.clone());
        let revocations = Family::<Labels, Counter>::default();
        registry.register(
            "revocations",
            "Sessions ended, by reason, as heard by this instance (every instance hears every account)",
            revocations.clone(),
        );
        let kick_delivery = latency_histogram();
        registry.register(
            "kick_delivery_seconds",
            "From a revocation event reaching this instance to force_logout written to the socket",
            kick_delivery.clone(),
        );
        let sockets_dropped = Family::<Labels, Counter>::default();
        registry.register(
            "sockets_dropped",
            "Sockets this instance dropped, by cause",
            sockets_dropped.clone(),
        );
        let store_calls: Family<Labels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "store_call_seconds",
            "Session store call latency by operation",
            store_calls.clone(),
        );
        let open_sockets = Gauge::default();
        registry.register(
            "open_sockets",
            "Authenticated WebSockets open on this instance",
            open_sockets.clone(),
        );
        let live_sessions = Gauge::default();
        registry.register(
            "live_sessions",
            "Live sessions in the store (all instances; counted at most once a minute)",
            live_sessions.clone(),
        );
        Metrics {
            registry,
            sign_ins,
            revocations,
            kick_delivery,
            sockets_dropped,
            store_calls,
            open_sockets,
            live_sessions,
        }
    }

    /// Counts a sign-in with `result` (`ok`, `invalid_credentials`, ...).
    pub fn sign_in(&self, result: &'static str) {
        self.sign_ins.get_or_create(&vec![("result", result)]).inc();
    }

    pub fn revoked(&self, reason: &'static str, n: usize) {
        self.revocations
            .get_or_create(&vec![("reason", reason)])
            .inc_by(n as u64);
    }

    pub fn kick_delivered(&self, seconds: f64) {
        self.kick_delivery.observe(seconds);
    }

    pub fn socket_dropped(&self, cause: SocketDrop) {
        self.sockets_dropped
            .get_or_create(&vec![("cause", cause.label())])
            .inc();
    }

    /// The latency histogram of one store operation. Take it once and keep
    /// it: looking a labelled series up costs an allocation and a lock.
    pub fn store_call(&self, op: &'static str) -> Histogram {
        self.store_calls.get_or_create(&vec![("op", op)]).clone()
    }

    /// The text exposition, with the on-demand gauges set first.
    pub fn render(&self, open_sockets: usize, live_sessions: usize) -> String {
        self.open_sockets.set(open_sockets as i64);
        self.live_sessions.set(live_sessions as i64);
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family() {
        let m = Metrics::new();
        m.sign_in("ok");
        m.revoked("duplicate_login", 2);
        m.kick_delivered(0.0004);
        m.socket_dropped(SocketDrop::WriteTimeout);
        m.store_call("sign_in").observe(0.0002);
        let text = m.render(3, 7);
        for needle in [
            "loginguard_sign_ins_total{result=\"ok\"} 1",
            "loginguard_revocations_total{reason=\"duplicate_login\"} 2",
            "loginguard_kick_delivery_seconds_count 1",
            "loginguard_sockets_dropped_total{cause=\"write_timeout\"} 1",
            "loginguard_store_call_seconds_count{op=\"sign_in\"} 1",
            "loginguard_open_sockets 3",
            "loginguard_live_sessions 7",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
    }
}
