//! `LoadgenError`: everything that can stop a scenario, with a message that
//! says what to do about it.
//!
//! Only errors that end a run live here; a single failed request inside a
//! measurement is counted by the scenario instead of being raised.

use std::net::SocketAddr;

/// Why a loadgen command failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadgenError {
    #[error("target {url:?} is not on loopback: loadgen only sends traffic to 127.0.0.0/8, [::1] or localhost")]
    NotLoopback { url: String },
    #[error("bad target URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("invalid argument: {0}")]
    Arg(String),
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    #[error("{what}: HTTP {status}: {body}")]
    Status {
        what: &'static str,
        status: u16,
        body: String,
    },
    #[error("WebSocket: {0}")]
    Ws(Box<tokio_tungstenite::tungstenite::Error>),
    #[error("WebSocket protocol: {0}")]
    Protocol(String),
    #[error("timed out: {0}")]
    Timeout(&'static str),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error("worker process: {0}")]
    Worker(String),
    #[error("report {path}: {reason}")]
    Report { path: String, reason: String },
    #[error("plot: {0}")]
    Plot(String),
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
}

impl From<tokio_tungstenite::tungstenite::Error> for LoadgenError {
    fn from(e: tokio_tungstenite::tungstenite::Error) -> Self {
        LoadgenError::Ws(Box::new(e))
    }
}
