//! A webhook receiver for the tests: a real HTTP server on a free port that
//! records every request and answers as told (a status, or never).
//!
//! It checks nothing itself; tests read what it got and verify signatures
//! with `verifies`, computed the Standard Webhooks way from the secret.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// A secret for the tests' webhooks files.
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// How the receiver answers one request.
#[derive(Clone, Copy, Debug)]
pub enum Answer {
    Status(u16),
    /// Never answers (the sender's deadline must end it).
    Hang,
}

/// One request as received.
#[derive(Clone, Debug)]
pub struct Hook {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub raw: String,
    pub body: Value,
    pub at: std::time::Instant,
}

#[derive(Default)]
struct Inner {
    got: Mutex<Vec<Hook>>,
    /// Answers for the next requests, in order; 204 once empty.
    plan: Mutex<VecDeque<Answer>>,
}

/// A running receiver; stops with the test's runtime.
pub struct Receiver {
    pub url: String,
    inner: Arc<Inner>,
}

impl Receiver {
    pub async fn start(plan: &[Answer]) -> Receiver {
        let inner = Arc::new(Inner::default());
        inner.plan.lock().unwrap().extend(plan.iter().copied());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/hooks", post(receive))
            .with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, inner }
    }

    /// Everything received so far, in order.
    pub fn got(&self) -> Vec<Hook> {
        self.inner.got.lock().unwrap().clone()
    }

    /// A webhooks file at `dir` sending `events` here.
    pub fn file(&self, dir: &std::path::Path, events: &[&str]) -> std::path::PathBuf {
        let path = dir.join("webhooks.toml");
        let events: Vec<String> = events.iter().map(|e| format!("{e:?}")).collect();
        std::fs::write(
            &path,
            format!(
                "[[webhook]]\nurl = {:?}\nsecret = {SECRET:?}\nevents = [{}]\n",
                self.url,
                events.join(", ")
            ),
        )
        .unwrap();
        path
    }
}

async fn receive(State(inner): State<Arc<Inner>>, headers: HeaderMap, raw: String) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let hook = Hook {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body: serde_json::from_str(&raw).unwrap_or(Value::Null),
        raw,
        at: std::time::Instant::now(),
    };
    inner.got.lock().unwrap().push(hook);
    let answer = inner.plan.lock().unwrap().pop_front();
    match answer {
        None => StatusCode::NO_CONTENT,
        Some(Answer::Status(code)) => StatusCode::from_u16(code).unwrap(),
        Some(Answer::Hang) => std::future::pending().await,
    }
}

/// Whether one of `hook`'s signatures is the HMAC of its id, timestamp and
/// body under `secret` (the Standard Webhooks check).
pub fn verifies(hook: &Hook, secret: &str) -> bool {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.{}", hook.id, hook.timestamp, hook.raw).as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    hook.signature.split(' ').any(|s| s == expected)
}
