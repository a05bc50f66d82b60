//! `webhook-delay`: how long after a sign-in its `session.created` webhook
//! reaches a receiver. loadgen is the receiver (an HTTP server on
//! `--listen`, which the instance's `--webhooks` file names); it checks every
//! delivery's Standard Webhooks signature with `--secret`, then signs
//! `--count` sessions in one after another and matches each delivery to its
//! sign-in by session id. Reported: delivery minus the sign-in's response
//! (what a receiver waits after the user is in), and minus its request.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use super::kicks::signed_us;
use crate::api;
use crate::cli::WebhookDelayArgs;
use crate::http::HttpConn;
use crate::progress::Progress;
use crate::stats::{Latency, SignedLatency, SignedSummary, Summary};
use crate::LoadgenError;

/// How long to wait for deliveries still missing after the last sign-in.
const STRAGGLERS: Duration = Duration::from_secs(15);

#[derive(Debug, Serialize)]
pub struct WebhookDelayReport {
    pub scenario: &'static str,
    pub target: String,
    pub sign_ins: u64,
    /// `session.created` deliveries matched to a sign-in of this run.
    pub delivered: u64,
    pub missed: u64,
    /// Deliveries whose signature did not verify (must be 0).
    pub bad_signatures: u64,
    /// Deliveries of one event seen more than once (at-least-once retries).
    pub duplicates: u64,
    /// Delivery minus the sign-in's HTTP response (negative: the receiver knew first).
    pub after_response: SignedSummary,
    /// Delivery minus the sign-in's request being sent.
    pub after_request: Summary,
    pub elapsed_s: f64,
}

/// What the receiver saw.
#[derive(Default)]
struct Seen {
    /// session id -> first delivery of its `session.created`.
    created: HashMap<String, Instant>,
    message_ids: HashMap<String, u32>,
    bad_signatures: u64,
}

struct Receiver {
    key: Vec<u8>,
    seen: Mutex<Seen>,
    arrived: Notify,
}

#[derive(Deserialize)]
struct Body {
    #[serde(rename = "type")]
    kind: String,
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    session_id: String,
}

pub async fn run(a: &WebhookDelayArgs) -> Result<WebhookDelayReport, LoadgenError> {
    let key = decode_secret(&a.secret)?;
    let receiver = Arc::new(Receiver {
        key,
        seen: Mutex::new(Seen::default()),
        arrived: Notify::new(),
    });
    let listener = TcpListener::bind(a.listen).await?;
    let server = tokio::spawn(serve(listener, receiver.clone()));

    let started = Instant::now();
    let progress = Progress::start("webhook-delay: sign-ins", u64::from(a.count));
    let mut conn = HttpConn::connect(&a.target.target).await?;
    let mut sent = Vec::new();
    for i in 0..u64::from(a.count) {
        let user = a.accounts.name(i);
        let request = Instant::now();
        let session = api::login(&mut conn, &user, &a.accounts.password, "loadgen-webhook").await?;
        sent.push((session.session_id, request, Instant::now()));
        progress.counters.done();
    }
    drop(progress);

    let deadline = tokio::time::Instant::now() + STRAGGLERS;
    loop {
        let waiting = receiver.arrived.notified();
        let all_in = {
            let seen = receiver.seen.lock().expect("not poisoned");
            sent.iter().all(|(id, _, _)| seen.created.contains_key(id))
        };
        if all_in || tokio::time::timeout_at(deadline, waiting).await.is_err() {
            break;
        }
    }
    server.abort();

    let seen = receiver.seen.lock().expect("not poisoned");
    let (mut after_response, mut after_request) = (SignedLatency::default(), Latency::new());
    let mut delivered = 0;
    for (id, request, response) in &sent {
        if let Some(&at) = seen.created.get(id) {
            delivered += 1;
            after_response.record_us(signed_us(*response, at));
            after_request.record(at.saturating_duration_since(*request));
        }
    }
    Ok(WebhookDelayReport {
        scenario: "webhook-delay",
        target: a.target.target.to_string(),
        sign_ins: sent.len() as u64,
        delivered,
        missed: sent.len() as u64 - delivered,
        bad_signatures: seen.bad_signatures,
        duplicates: seen.message_ids.values().filter(|&&n| n > 1).count() as u64,
        after_response: after_response.summary(),
        after_request: after_request.summary(),
        elapsed_s: started.elapsed().as_secs_f64(),
    })
}

/// `whsec_<base64>` -> the HMAC key.
fn decode_secret(secret: &str) -> Result<Vec<u8>, LoadgenError> {
    secret
        .strip_prefix("whsec_")
        .and_then(|b64| STANDARD.decode(b64).ok())
        .filter(|key| !key.is_empty())
        .ok_or_else(|| LoadgenError::Arg("--secret must be whsec_ followed by base64".into()))
}

/// Accepts deliveries until aborted, one task per connection.
async fn serve(listener: TcpListener, receiver: Arc<Receiver>) {
    while let Ok((stream, _)) = listener.accept().await {
        let receiver = receiver.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| receive(req, receiver.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// One delivery: 204 when its signature verifies, else 400 (which the
/// sender retries, as a receiver with the wrong secret would see it).
async fn receive(
    req: Request<Incoming>,
    receiver: Arc<Receiver>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let arrived = Instant::now();
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (id, timestamp, signatures) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    );
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Ok(status(StatusCode::BAD_REQUEST)),
    };
    let mut seen = receiver.seen.lock().expect("not poisoned");
    if !verifies(&receiver.key, &id, &timestamp, &body, &signatures) {
        seen.bad_signatures += 1;
        return Ok(status(StatusCode::BAD_REQUEST));
    }
    *seen.message_ids.entry(id).or_default() += 1;
    if let Ok(event) = serde_json::from_slice::<Body>(&body) {
        if event.kind == "session.created" {
            seen.created.entry(event.data.session_id).or_insert(arrived);
        }
    }
    drop(seen);
    receiver.arrived.notify_waiters();
    Ok(status(StatusCode::NO_CONTENT))
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = code;
    response
}

/// Standard Webhooks: one of the space-separated `v1,<base64>` signatures
/// is the HMAC-SHA256 of `{id}.{timestamp}.{body}`.
fn verifies(key: &[u8], id: &str, timestamp: &str, body: &[u8], signatures: &str) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let expected = mac.finalize().into_bytes();
    signatures
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|b64| STANDARD.decode(b64).ok())
        .any(|sig| sig.as_slice() == expected.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_the_standard_webhooks_reference_vector() {
        let key = decode_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        let good = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        assert!(verifies(
            &key,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265330",
            body,
            good
        ));
        let rotated = format!("v1,AAAA {good}");
        assert!(verifies(
            &key,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265330",
            body,
            &rotated
        ));
        assert!(!verifies(&key, "msg_other", "1614265330", body, good));
        assert!(decode_secret("nope").is_err());
    }
}
