//! Webhook events as plain values: which audit entries become which event,
//! the body every receiver gets, and when a failed delivery is tried again.
//!
//! `app::webhooks` builds bodies from the audit entries the store's outbox
//! hands it and asks `RetrySchedule` for the next attempt; both are pure, so
//! the Redis and memory outboxes follow the same rules. The schedule keeps
//! PROTOCOL.md's promise: the first retry within 10 s of a failure, then
//! backoff for at least an hour before an event is given up.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::clock::Millis;

/// The events a webhook may subscribe to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WebhookEvent {
    #[serde(rename = "session.created")]
    SessionCreated,
    /// Every ending, whatever the reason (expiry and sign-out included).
    #[serde(rename = "session.revoked")]
    SessionRevoked,
    /// A sign-in with the right password that the policy refused.
    #[serde(rename = "session.denied")]
    SessionDenied,
}

impl WebhookEvent {
    pub const ALL: [WebhookEvent; 3] = [
        WebhookEvent::SessionCreated,
        WebhookEvent::SessionRevoked,
        WebhookEvent::SessionDenied,
    ];

    /// The wire name (`session.created`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::SessionCreated => "session.created",
            WebhookEvent::SessionRevoked => "session.revoked",
            WebhookEvent::SessionDenied => "session.denied",
        }
    }

    pub fn parse(raw: &str) -> Option<WebhookEvent> {
        WebhookEvent::ALL.into_iter().find(|e| e.as_str() == raw)
    }

    /// The event an audit entry of type `audit_type` is, if any: failed
    /// password checks (`sign_in_failed`) and unknown types are not events.
    pub fn of_audit_type(audit_type: &str) -> Option<WebhookEvent> {
        match audit_type {
            "signed_in" => Some(WebhookEvent::SessionCreated),
            "signed_out" | "revoked" | "expired" => Some(WebhookEvent::SessionRevoked),
            "denied" => Some(WebhookEvent::SessionDenied),
            _ => None,
        }
    }
}

/// What a webhook says happened to a session; serialised once per event
/// and signed as is, so every retry carries the same bytes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookBody {
    #[serde(rename = "type")]
    pub event: WebhookEvent,
    /// When it happened (RFC 3339, milliseconds, UTC).
    pub timestamp: String,
    pub data: WebhookData,
}

/// The session the event is about. Fields the audit entry lacks are null.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WebhookData {
    pub session_id: Option<String>,
    pub username: Option<String>,
    pub device: Option<String>,
    pub device_class: Option<String>,
    pub ip: Option<String>,
    pub reason: Option<String>,
    /// The session or sign-in that caused it, as the audit entry gives it.
    pub by: serde_json::Value,
}

/// When a failed delivery is tried again, and when it is given up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetrySchedule {
    /// Wait after the first failure (at most 10 s, PROTOCOL.md).
    pub first: Duration,
    /// The wait doubles after each failure up to this.
    pub longest: Duration,
    /// No attempt starts later than this after the event (at least an hour).
    pub give_up_after: Duration,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        RetrySchedule {
            first: Duration::from_secs(5),
            longest: Duration::from_secs(30 * 60),
            give_up_after: Duration::from_secs(24 * 3600),
        }
    }
}

impl RetrySchedule {
    /// The due time of the next attempt after `failures` failed ones (1 for
    /// the first failure) of an event born at `born`, the last failing at
    /// `now`; `None` when the event is given up. `jitter` in [0, 1) spreads
    /// retries of many events over the last tenth of each wait (never
    /// past `first`'s promise: the wait only shrinks).
    pub fn next_attempt(
        &self,
        failures: u32,
        born: Millis,
        now: Millis,
        jitter: f64,
    ) -> Option<Millis> {
        let doublings = failures.saturating_sub(1).min(30);
        let wait = self
            .first
            .saturating_mul(1u32 << doublings)
            .min(self.longest);
        let wait = wait.mul_f64(1.0 - 0.1 * jitter.clamp(0.0, 1.0));
        let due = now.plus(wait);
        (due.since(born) <= self.give_up_after.as_millis() as u64).then_some(due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_types_map_to_events() {
        assert_eq!(
            WebhookEvent::of_audit_type("signed_in"),
            Some(WebhookEvent::SessionCreated)
        );
        for ended in ["signed_out", "revoked", "expired"] {
            assert_eq!(
                WebhookEvent::of_audit_type(ended),
                Some(WebhookEvent::SessionRevoked)
            );
        }
        assert_eq!(
            WebhookEvent::of_audit_type("denied"),
            Some(WebhookEvent::SessionDenied)
        );
        assert_eq!(WebhookEvent::of_audit_type("sign_in_failed"), None);
        for e in WebhookEvent::ALL {
            assert_eq!(WebhookEvent::parse(e.as_str()), Some(e));
            assert_eq!(
                serde_json::to_string(&e).unwrap(),
                format!("\"{}\"", e.as_str())
            );
        }
        assert_eq!(WebhookEvent::parse("session.other"), None);
    }

    #[test]
    fn the_first_retry_is_within_ten_seconds_then_backs_off() {
        let s = RetrySchedule::default();
        let born = Millis(1_000_000);
        let first = s.next_attempt(1, born, born, 0.999).unwrap();
        assert!(first.since(born) <= 10_000 && first.since(born) >= 4_000);
        let mut now = born;
        let mut waits = Vec::new();
        for failures in 1..=8 {
            let due = s.next_attempt(failures, born, now, 0.0).unwrap();
            waits.push(due.since(now));
            now = due;
        }
        assert!(waits.windows(2).all(|w| w[1] == w[0] * 2), "{waits:?}");
        let capped = s.next_attempt(30, born, born, 0.0).unwrap();
        assert_eq!(capped.since(born), 30 * 60 * 1000);
    }

    #[test]
    fn retries_go_on_for_at_least_an_hour_then_stop() {
        let s = RetrySchedule::default();
        let born = Millis(0);
        let mut now = born;
        let mut failures = 0;
        while let Some(due) = s.next_attempt(failures + 1, born, now, 0.5) {
            failures += 1;
            now = due;
        }
        assert!(now.since(born) >= 3600 * 1000, "gave up after {now:?}");
        assert!(now.since(born) <= s.give_up_after.as_millis() as u64);
        assert!(failures > 10);
    }
}
