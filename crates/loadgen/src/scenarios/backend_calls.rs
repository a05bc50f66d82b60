//! Many calls to the trusted-backend API (`/api/v1`, with an API key), one
//! per index, over a few keep-alive connections: how `redis-memory` and
//! `revoke-all` make (and end) their sessions without hashing a password.
//!
//! Only sends and counts; what a scenario keeps from the replies is its
//! `on_reply`'s business.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::Method;
use serde_json::json;

use crate::http::{HttpConn, Reply};
use crate::progress::Progress;
use crate::target::Target;
use crate::LoadgenError;

/// One request: method, path, JSON body, the status it must get.
pub type Call = (Method, String, Option<String>, u16);

/// Where and how hard to send.
pub struct Calls<'a> {
    pub target: &'a Target,
    pub api_key: &'a str,
    pub count: u64,
    pub concurrency: u64,
    /// Stop sending after this long.
    pub duration: Duration,
    /// The progress line's label.
    pub label: String,
}

/// Failed calls, shared by the phases of a run.
#[derive(Default)]
pub struct Errors {
    pub count: AtomicU64,
    pub first: std::sync::Mutex<Option<String>>,
}

impl Errors {
    pub fn first(&self) -> Option<String> {
        self.first.lock().expect("not poisoned").clone()
    }

    fn record(&self, e: &LoadgenError) {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.first
            .lock()
            .expect("not poisoned")
            .get_or_insert(e.to_string());
    }
}

/// `POST /api/v1/sessions` for `subject`: the call that makes a session.
pub fn create_session(subject: &str, user_agent: &str) -> Call {
    let body = json!({"subject": subject, "device": "loadgen", "ip": "203.0.113.7",
                      "user_agent": user_agent});
    (
        Method::POST,
        "/api/v1/sessions".to_owned(),
        Some(body.to_string()),
        201,
    )
}

/// Sends `make(i)` for every i < count; `on_reply(i, reply)` sees each reply
/// that had its status. Returns how many did.
pub async fn drive(
    calls: Calls<'_>,
    errors: Arc<Errors>,
    make: impl Fn(u64) -> Call + Send + Sync + 'static,
    on_reply: impl Fn(u64, &Reply) + Send + Sync + 'static,
) -> Result<u64, LoadgenError> {
    let progress = Progress::start(calls.label, calls.count);
    let next = Arc::new(AtomicU64::new(0));
    let (make, on_reply) = (Arc::new(make), Arc::new(on_reply));
    let deadline = Instant::now() + calls.duration;
    let mut workers = Vec::new();
    for _ in 0..calls.concurrency {
        let (target, key, n) = (calls.target.clone(), calls.api_key.to_owned(), calls.count);
        let (next, make, on_reply) = (next.clone(), make.clone(), on_reply.clone());
        let (errors, counters) = (errors.clone(), progress.counters.clone());
        workers.push(tokio::spawn(async move {
            let mut conn = HttpConn::connect(&target).await?;
            let mut ok = 0u64;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n || Instant::now() >= deadline {
                    return Ok::<_, LoadgenError>(ok);
                }
                let (method, path, body, want) = make(i);
                let result = conn
                    .send(method, &path, Some(&key), body)
                    .await
                    .and_then(|reply| reply.expect("backend API call", want));
                match result {
                    Ok(reply) => {
                        on_reply(i, &reply);
                        ok += 1;
                        counters.done();
                    }
                    Err(e) => {
                        errors.record(&e);
                        counters.error();
                        conn = HttpConn::connect(&target).await?;
                    }
                }
            }
        }));
    }
    let mut ok = 0;
    for w in workers {
        ok += w
            .await
            .map_err(|e| LoadgenError::Worker(format!("backend API task failed: {e}")))??;
    }
    drop(progress);
    Ok(ok)
}
