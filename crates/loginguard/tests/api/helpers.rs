//! The test harness: spawn the real app on a random port, talk to it with a
//! real HTTP client and a real WebSocket client, and assert on what comes back.
//!
//! `spawn_app` builds the app through `startup::App` exactly as the binary
//! does, with a manual clock the test can move. Dropping a `TestApp` cancels
//! it. Nothing here sleeps to wait for a condition: it polls with a deadline.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use loginguard::config::{Config, StoreBackend};
use loginguard::domain::{ManualClock, OnLimit};
use loginguard::startup::App;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

use crate::redis_server::{RedisCluster, RedisServer};

/// How long any single expectation may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(5);

static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var_os("TEST_LOG").is_some() {
        loginguard::telemetry::init("debug,hyper=info,h2=info");
    }
});

/// A running app.
pub struct TestApp {
    pub addr: String,
    pub http: reqwest::Client,
    pub clock: Arc<ManualClock>,
    cancel: CancellationToken,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// The config every test starts from: port 0, memory store, defaults.
pub fn base_config() -> Config {
    let mut c = Config::defaults();
    c.http.listen = "127.0.0.1:0".parse().unwrap();
    c
}

/// `base_config` on the given Redis.
pub fn redis_config(redis: &RedisServer) -> Config {
    let mut c = base_config();
    c.store.redis = Some(redis.url().into());
    c
}

pub fn with_policy(mut c: Config, max: u32, on_limit: OnLimit) -> Config {
    c.session.max_sessions = max;
    c.session.on_limit = on_limit;
    c
}

pub async fn spawn_app(config: Config) -> TestApp {
    spawn_app_with_clock(config, Arc::new(ManualClock::new())).await
}

/// Several instances on one store share one clock, as real ones share time.
/// With a Redis store, waits until the instance is ready (it hears events).
pub async fn spawn_app_with_clock(config: Config, clock: Arc<ManualClock>) -> TestApp {
    LazyLock::force(&TRACING);
    let wait_ready = !matches!(config.store.backend(), StoreBackend::Memory);
    let app = App::build_with_clock(config, clock.clone())
        .await
        .expect("app builds");
    let addr = app.local_addr().to_string();
    let cancel = CancellationToken::new();
    let task = tokio::spawn(app.run(cancel.clone()));
    let app = TestApp {
        addr,
        http: reqwest::Client::new(),
        clock,
        cancel,
        task: Some(task),
    };
    if wait_ready {
        eventually("instance ready", || async {
            app.get("/readyz", None).await.status == 200
        })
        .await;
    }
    app
}

/// `base_config` on the given cluster.
pub fn cluster_config(cluster: &RedisCluster) -> Config {
    let mut c = base_config();
    c.store.redis_cluster = cluster.urls().into_iter().map(Into::into).collect();
    c
}

/// A response's status and JSON body (Null when empty).
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    async fn from(resp: reqwest::Response) -> Reply {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("non-JSON body {text:?} (status {status})"))
        };
        Reply {
            status,
            body,
            headers,
        }
    }

    /// Asserts the error shape of PROTOCOL.md and returns the `error` object.
    pub fn error(&self, status: u16, code: &str) -> &Value {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(self.body["error"]["code"], code, "body: {}", self.body);
        assert!(
            self.body["error"]["message"].is_string(),
            "body: {}",
            self.body
        );
        &self.body["error"]
    }

    /// The `Retry-After` header, in seconds.
    pub fn retry_after(&self) -> u64 {
        let value = self.headers["retry-after"].to_str().expect("ASCII");
        value.parse().expect("whole seconds")
    }

    pub fn token(&self) -> String {
        assert_eq!(self.status, 200, "body: {}", self.body);
        self.body["token"].as_str().expect("token").to_owned()
    }
}

impl TestApp {
    /// A client of an app running elsewhere (a `process::Proc`): the same
    /// helpers, nothing to cancel, and a clock that is not the app's.
    pub fn remote(addr: &str) -> TestApp {
        TestApp {
            addr: addr.to_owned(),
            http: reqwest::Client::new(),
            clock: Arc::new(ManualClock::new()),
            cancel: CancellationToken::new(),
            task: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.http.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Reply::from(req.send().await.expect("request sent")).await
    }

    pub async fn login(&self, user: &str, password: &str, device: &str) -> Reply {
        let body = json!({"username": user, "password": password, "device": device});
        self.request(reqwest::Method::POST, "/api/auth/login", None, Some(body))
            .await
    }

    /// `login` from `ip`, as a trusted proxy reports it in `X-Forwarded-For`.
    pub async fn login_from(&self, ip: &str, user: &str, password: &str) -> Reply {
        let body = json!({"username": user, "password": password, "device": "x"});
        self.login_body_from(ip, body).await
    }

    /// Posts any sign-in `body` from `ip`, as `login_from` does.
    pub async fn login_body_from(&self, ip: &str, body: Value) -> Reply {
        let req = self
            .http
            .post(self.url("/api/auth/login"))
            .header("x-forwarded-for", ip)
            .json(&body);
        Reply::from(req.send().await.expect("request sent")).await
    }

    /// Signs in a demo account (password derived from the name) and returns the token.
    pub async fn login_ok(&self, user: &str, device: &str) -> String {
        let password = match user {
            "admin" => "admin123".to_owned(),
            other => other.replace("user", "password"),
        };
        self.login(user, &password, device).await.token()
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.request(reqwest::Method::GET, path, token, None).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.request(reqwest::Method::DELETE, path, token, None)
            .await
    }

    pub async fn logout(&self, token: &str) -> Reply {
        self.request(reqwest::Method::POST, "/api/auth/logout", Some(token), None)
            .await
    }

    pub async fn sessions(&self, token: &str) -> Vec<Value> {
        let r = self.get("/api/auth/sessions", Some(token)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["sessions"].as_array().expect("sessions").clone()
    }

    /// A raw WebSocket, not yet authenticated.
    pub async fn ws_raw(&self) -> Ws {
        let (stream, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", self.addr))
            .await
            .expect("websocket connects");
        Ws { stream }
    }

    /// A WebSocket authenticated with `token`; asserts `auth_ok`.
    pub async fn ws_authed(&self, token: &str) -> Ws {
        let mut ws = self.ws_raw().await;
        ws.send_json(json!({"type": "auth", "token": token})).await;
        let ok = ws.next_json().await;
        assert_eq!(ok["type"], "auth_ok", "{ok}");
        ws
    }

    /// Stops the app and waits until it has drained.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(15), task)
                .await
                .expect("shutdown finishes in time")
                .expect("app task")
                .expect("app run");
        }
    }
}

/// A WebSocket client connection.
pub struct Ws {
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// How a socket ended.
#[derive(Debug, PartialEq, Eq)]
pub struct Closed {
    pub code: u16,
    pub reason: String,
}

impl Ws {
    pub async fn send_json(&mut self, v: Value) {
        self.stream
            .send(Message::Text(v.to_string().into()))
            .await
            .expect("ws send");
    }

    pub async fn send_text(&mut self, t: &str) {
        self.stream
            .send(Message::Text(t.to_owned().into()))
            .await
            .expect("ws send");
    }

    /// The next frame of any kind (protocol pings skipped), or `None` at the end.
    pub async fn next_frame(&mut self) -> Option<Message> {
        loop {
            let frame = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("a websocket frame in time");
            match frame {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(m)) => return Some(m),
                Some(Err(_)) | None => return None,
            }
        }
    }

    pub async fn next_text(&mut self) -> String {
        match self.next_frame().await {
            Some(Message::Text(t)) => t.to_string(),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    pub async fn next_json(&mut self) -> Value {
        let t = self.next_text().await;
        serde_json::from_str(&t).unwrap_or_else(|_| panic!("not JSON: {t}"))
    }

    /// The close frame's code and reason; panics on anything else.
    pub async fn expect_close(&mut self) -> Closed {
        match self.next_frame().await {
            Some(Message::Close(Some(f))) => Closed {
                code: u16::from(f.code),
                reason: f.reason.to_string(),
            },
            Some(Message::Close(None)) => Closed {
                code: u16::from(CloseCode::Status),
                reason: String::new(),
            },
            other => panic!("expected a close frame, got {other:?}"),
        }
    }

    pub async fn expect_close_code(&mut self, code: u16) {
        let closed = self.expect_close().await;
        assert_eq!(closed.code, code, "{closed:?}");
    }

    /// Skips `sessions_changed` notices and returns the next other message.
    pub async fn next_event(&mut self) -> Value {
        loop {
            let v = self.next_json().await;
            if v["type"] != "sessions_changed" {
                return v;
            }
        }
    }

    /// Asserts a `force_logout` with `reason`, then close 4001; returns the message.
    pub async fn expect_force_logout(&mut self, reason: &str) -> Value {
        let msg = self.next_event().await;
        assert_eq!(msg["type"], "force_logout", "{msg}");
        assert_eq!(msg["reason"], reason, "{msg}");
        assert!(
            msg["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{msg}"
        );
        assert!(msg["at"].is_string(), "{msg}");
        self.expect_close_code(4001).await;
        msg
    }
}

/// Polls `check` until it returns true or `WAIT` passes.
pub async fn eventually<F, Fut>(what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    eventually_within(what, WAIT, check).await
}

/// Polls `check` until it returns true or `wait` passes (for what takes
/// longer by design, such as a webhook retry).
pub async fn eventually_within<F, Fut>(what: &str, wait: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + wait;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for: {what}");
}
