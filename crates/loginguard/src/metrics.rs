//! Prometheus metrics: one registry per instance, rendered by `GET /metrics`.
//!
//! Counters and histograms are recorded where things happen (sign-in
//! results in `app::sign_in`, revocations in `ws::hub`, kick delivery and
//! dropped sockets in `ws::connection`, store calls and errors in
//! `store::timed`, webhook deliveries and backlog in `app::webhooks`); gauges that are cheap to read on demand (open sockets,
//! live sessions, store and event health, hashing queue) are set when the
//! page is rendered. The dashboard and alerts in `deploy/` use these names;
//! `scripts/check-ops` checks them. Labels are fixed,
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

/// How a sign-in came in: the `origin` label of `sign_ins`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInOrigin {
    /// `POST /api/auth/login`: a password.
    Password,
    /// `POST /api/v1/sessions`: a trusted backend's word.
    Backend,
    /// `POST /api/auth/login/evict`: an eviction ticket (of either of the above).
    Ticket,
}

impl SignInOrigin {
    /// The `origin` label.
    pub const fn label(self) -> &'static str {
        match self {
            SignInOrigin::Password => "password",
            SignInOrigin::Backend => "backend",
            SignInOrigin::Ticket => "ticket",
        }
    }
}

/// The `result` labels of `webhook_deliveries`: how an attempt ended
/// (`app::webhooks::Attempt`), then what became of a delivery it could not
/// make.
pub const WEBHOOK_RESULTS: [&str; 6] = [
    "delivered",
    "refused",
    "timed_out",
    "unreachable",
    "given_up",
    "dropped",
];

fn latency_histogram() -> Histogram {
    // 10 µs .. ~5 s, doubling.
    Histogram::new(exponential_buckets(0.000_01, 2.0, 20))
}

/// Every metric of one instance.
pub struct Metrics {
    registry: Registry,
    sign_ins: Family<Labels, Counter>,
    policy_outcomes: Family<Labels, Counter>,
    eviction_tickets: Family<Labels, Counter>,
    revocations: Family<Labels, Counter>,
    kick_delivery: Histogram,
    sockets_dropped: Family<Labels, Counter>,
    store_calls: Family<Labels, Histogram, fn() -> Histogram>,
    store_errors: Family<Labels, Counter>,
    open_sockets: Gauge,
    live_sessions: Gauge,
    store_up: Gauge,
    events_subscribed: Gauge,
    hashing_queue_depth: Gauge,
    hashing_queue_capacity: Gauge,
    webhook_deliveries: Family<Labels, Counter>,
    webhook_queue_depth: Gauge,
    webhook_unread_events: Gauge,
    webhook_unread_capacity: Gauge,
    webhook_oldest_undelivered: Gauge,
}

/// The gauges read on demand when `/metrics` is rendered.
#[derive(Clone, Copy, Debug, Default)]
pub struct Readings {
    pub open_sockets: usize,
    pub live_sessions: usize,
    pub store_up: bool,
    pub events_subscribed: bool,
    pub hashing_queue_depth: usize,
    pub hashing_queue_capacity: usize,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("loginguard");
        let sign_ins = Family::<Labels, Counter>::default();
        registry.register(
            "sign_ins",
            "Sign-in attempts by origin (password, backend, ticket) and result",
            sign_ins.clone(),
        );
        let policy_outcomes = Family::<Labels, Counter>::default();
        registry.register(
            "sign_in_policy",
            "Sign-ins with the right password by what the policy did: admitted, kicked_oldest, replaced, evicted_stale, asked, denied",
            policy_outcomes.clone(),
        );
        let eviction_tickets = Family::<Labels, Counter>::default();
        registry.register(
            "eviction_tickets",
            "Eviction tickets (on_limit = ask): issued, redeemed, and redemptions that came too late (expired)",
            eviction_tickets.clone(),
        );
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
        let store_errors = Family::<Labels, Counter>::default();
        registry.register(
            "store_errors",
            "Failed session store calls by operation and kind (unavailable, corrupt)",
            store_errors.clone(),
        );
        let store_up = Gauge::default();
        registry.register(
            "store_up",
            "1 when the session store answered a ping at scrape time",
            store_up.clone(),
        );
        let events_subscribed = Gauge::default();
        registry.register(
            "events_subscribed",
            "1 while this instance hears the store's revocation events",
            events_subscribed.clone(),
        );
        let hashing_queue_depth = Gauge::default();
        registry.register(
            "hashing_queue_depth",
            "Password checks queued or running on the hashing threads",
            hashing_queue_depth.clone(),
        );
        let hashing_queue_capacity = Gauge::default();
        registry.register(
            "hashing_queue_capacity",
            "Password checks allowed to wait before sign-ins are answered 429",
            hashing_queue_capacity.clone(),
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
        let webhook_deliveries = Family::<Labels, Counter>::default();
        registry.register(
            "webhook_deliveries",
            "Webhook delivery attempts by result (delivered, refused, timed_out, unreachable), plus deliveries given_up after the retry schedule and dropped (endpoint removed, or the memory schedule full)",
            webhook_deliveries.clone(),
        );
        // Every result from the start, so rates and the dashboard see zeros
        // rather than no series at all.
        for result in WEBHOOK_RESULTS {
            let _ = webhook_deliveries.get_or_create(&vec![("result", result)]);
        }
        let webhook_queue_depth = Gauge::default();
        registry.register(
            "webhook_queue_depth",
            "Webhook deliveries scheduled and not yet delivered (all instances on Redis)",
            webhook_queue_depth.clone(),
        );
        let webhook_unread_events = Gauge::default();
        registry.register(
            "webhook_unread_events",
            "Audit entries no instance has read for webhooks yet: the ones the audit cap can still drop",
            webhook_unread_events.clone(),
        );
        let webhook_unread_capacity = Gauge::default();
        registry.register(
            "webhook_unread_capacity",
            "Audit entries the trail keeps (--audit-max-entries): unread events past this many newer entries are lost",
            webhook_unread_capacity.clone(),
        );
        let webhook_oldest_undelivered = Gauge::default();
        registry.register(
            "webhook_oldest_undelivered_seconds",
            "Age of the oldest webhook event not yet delivered (0 when none waits)",
            webhook_oldest_undelivered.clone(),
        );
        Metrics {
            registry,
            sign_ins,
            policy_outcomes,
            eviction_tickets,
            revocations,
            kick_delivery,
            sockets_dropped,
            store_calls,
            store_errors,
            open_sockets,
            live_sessions,
            store_up,
            events_subscribed,
            hashing_queue_depth,
            hashing_queue_capacity,
            webhook_deliveries,
            webhook_queue_depth,
            webhook_unread_events,
            webhook_unread_capacity,
            webhook_oldest_undelivered,
        }
    }

    /// Counts `n` webhook deliveries or attempts with `result`.
    pub fn webhook_delivery(&self, result: &'static str, n: usize) {
        self.webhook_deliveries
            .get_or_create(&vec![("result", result)])
            .inc_by(n as u64);
    }

    /// The webhook backlog as the outbox last reported it.
    pub fn webhook_backlog(
        &self,
        scheduled: u64,
        unread: u64,
        capacity: u64,
        oldest: std::time::Duration,
    ) {
        self.webhook_queue_depth.set(scheduled as i64);
        self.webhook_unread_events.set(unread as i64);
        self.webhook_unread_capacity.set(capacity as i64);
        self.webhook_oldest_undelivered.set(oldest.as_secs() as i64);
    }

    /// Counts a sign-in that came in by `origin` with `result` (`ok`,
    /// `invalid_credentials`, ...).
    pub fn sign_in(&self, origin: SignInOrigin, result: &'static str) {
        self.sign_ins
            .get_or_create(&vec![("origin", origin.label()), ("result", result)])
            .inc();
    }

    /// A sign-in the policy decided: `admitted`, `kicked_oldest`,
    /// `replaced`, `evicted_stale`, `asked` or `denied`.
    pub fn policy_outcome(&self, outcome: &'static str) {
        self.policy_outcomes
            .get_or_create(&vec![("outcome", outcome)])
            .inc();
    }

    /// An eviction ticket `issued`, `redeemed` or found `expired`.
    pub fn eviction_ticket(&self, event: &'static str) {
        self.eviction_tickets
            .get_or_create(&vec![("event", event)])
            .inc();
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

    /// The error counter of one store operation and kind; kept like `store_call`.
    pub fn store_error(&self, op: &'static str, kind: &'static str) -> Counter {
        self.store_errors
            .get_or_create(&vec![("op", op), ("kind", kind)])
            .clone()
    }

    /// The text exposition, with the on-demand gauges set first.
    pub fn render(&self, r: &Readings) -> String {
        self.open_sockets.set(r.open_sockets as i64);
        self.live_sessions.set(r.live_sessions as i64);
        self.store_up.set(i64::from(r.store_up));
        self.events_subscribed.set(i64::from(r.events_subscribed));
        self.hashing_queue_depth.set(r.hashing_queue_depth as i64);
        self.hashing_queue_capacity
            .set(r.hashing_queue_capacity as i64);
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// OpenMetrics text (what `render` makes) as the older Prometheus text
/// format 0.0.4, for scrapers and tools that do not ask for OpenMetrics
/// (`promtool check metrics`, curl): a counter's HELP and TYPE name the
/// `_total` series, and there is no `# EOF`.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
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
        m.sign_in(SignInOrigin::Password, "ok");
        m.sign_in(SignInOrigin::Backend, "ok");
        m.sign_in(SignInOrigin::Backend, "ok");
        m.revoked("duplicate_login", 2);
        m.kick_delivered(0.0004);
        m.socket_dropped(SocketDrop::WriteTimeout);
        m.store_call("sign_in").observe(0.0002);
        m.store_error("validate", "unavailable").inc();
        m.webhook_delivery("refused", 2);
        m.webhook_backlog(4, 1, 1000, std::time::Duration::from_secs(75));
        let text = m.render(&Readings {
            open_sockets: 3,
            live_sessions: 7,
            store_up: true,
            events_subscribed: false,
            hashing_queue_depth: 2,
            hashing_queue_capacity: 512,
        });
        for needle in [
            "loginguard_sign_ins_total{origin=\"password\",result=\"ok\"} 1",
            "loginguard_sign_ins_total{origin=\"backend\",result=\"ok\"} 2",
            "loginguard_revocations_total{reason=\"duplicate_login\"} 2",
            "loginguard_kick_delivery_seconds_count 1",
            "loginguard_sockets_dropped_total{cause=\"write_timeout\"} 1",
            "loginguard_store_call_seconds_count{op=\"sign_in\"} 1",
            "loginguard_open_sockets 3",
            "loginguard_live_sessions 7",
            "loginguard_store_errors_total{op=\"validate\",kind=\"unavailable\"} 1",
            "loginguard_store_up 1",
            "loginguard_events_subscribed 0",
            "loginguard_hashing_queue_depth 2",
            "loginguard_hashing_queue_capacity 512",
            "loginguard_webhook_deliveries_total{result=\"refused\"} 2",
            "loginguard_webhook_deliveries_total{result=\"given_up\"} 0",
            "loginguard_webhook_queue_depth 4",
            "loginguard_webhook_unread_events 1",
            "loginguard_webhook_unread_capacity 1000",
            "loginguard_webhook_oldest_undelivered_seconds 75",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
        let legacy = to_prometheus_text(&text);
        assert!(legacy.contains("# TYPE loginguard_sign_ins_total counter"));
        assert!(legacy.contains("# HELP loginguard_sign_ins_total "));
        assert!(legacy.contains("# TYPE loginguard_kick_delivery_seconds histogram"));
        assert!(!legacy.contains("# EOF"));
    }
}
