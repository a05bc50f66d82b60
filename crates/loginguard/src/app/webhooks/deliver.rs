//! One delivery attempt: a signed POST with a deadline.
//!
//! Called by the dispatcher for each leased delivery. Signs with the
//! endpoint's secrets and the attempt's own timestamp, follows no redirect
//! (a receiver that moved must be reconfigured, not followed with a signed
//! body) and counts only a 2xx answer as delivered. Never logs the body or
//! a secret.

use std::time::Duration;

use super::endpoints::Endpoint;
use super::sign::signature_header;

/// How an attempt ended; the label is the metric's `result`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attempt {
    Delivered,
    /// The receiver answered, but not 2xx.
    Refused(u16),
    /// No answer within the deadline.
    TimedOut,
    /// No connection (refused, DNS, TLS).
    Unreachable,
}

impl Attempt {
    pub fn label(self) -> &'static str {
        match self {
            Attempt::Delivered => "delivered",
            Attempt::Refused(_) => "refused",
            Attempt::TimedOut => "timed_out",
            Attempt::Unreachable => "unreachable",
        }
    }
}

/// The HTTP client every attempt goes through (pooled connections).
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
}

impl Sender {
    /// A client whose every attempt, connecting included, ends within `timeout`.
    pub fn new(timeout: Duration) -> Result<Sender, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("loginguard-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Sender { client })
    }

    /// POSTs `body` to `endpoint`, signed for `message_id` at `timestamp`
    /// (Unix seconds).
    pub async fn send(
        &self,
        endpoint: &Endpoint,
        message_id: &str,
        timestamp: u64,
        body: &str,
    ) -> Attempt {
        let signature = signature_header(&endpoint.secrets, message_id, timestamp, body);
        let sent = self
            .client
            .post(&endpoint.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", message_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.to_owned())
            .send()
            .await;
        match sent {
            Ok(answer) if answer.status().is_success() => Attempt::Delivered,
            Ok(answer) => Attempt::Refused(answer.status().as_u16()),
            Err(e) if e.is_timeout() => Attempt::TimedOut,
            Err(_) => Attempt::Unreachable,
        }
    }
}
