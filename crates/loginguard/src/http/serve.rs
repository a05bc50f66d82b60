//! The HTTP/1.1 accept loop: serves the router on each connection.
//!
//! Instead of `axum::serve`, because it sets no header read timeout: a
//! client that opens a connection and never finishes its request headers
//! would hold a descriptor forever. Here hyper closes it after
//! `HEADER_READ_TIMEOUT`. Connections are served with upgrades (WebSocket);
//! on shutdown each stops after its current request, and the loop waits for
//! them at most `grace`.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// How long a client may take to send a request's headers (also bounds how
/// long an idle keep-alive connection is kept).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// hyper's own limits answer with an empty body, so they sit well outside
/// ours (`limits.rs`: 100 header lines, 64 KiB of headers, 8 KiB of URI),
/// which answer with the JSON error shape. Past these, hyper's bare 431
/// remains (and its 414 past 64 KiB of URI, which it does not let us move).
const HYPER_MAX_HEADERS: usize = 1024;
const HYPER_MAX_BUF: usize = 256 * 1024;

/// Serves `router` until `shutdown`, then drains connections for at most `grace`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
    grace: Duration,
) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_headers(HYPER_MAX_HEADERS)
        .max_buf_size(HYPER_MAX_BUF);
    let connections = TaskTracker::new();
    let mut accept_failing = false;
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => {
                    accept_failing = false;
                    pair
                }
                Err(e) => {
                    // Out of descriptors, usually: wait a little instead of spinning.
                    if !accept_failing {
                        tracing::warn!(error = %e, "cannot accept connections; retrying");
                    }
                    accept_failing = true;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = router
            .clone()
            .map_request(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                req
            });
        let conn = builder
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
            .with_upgrades();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = shutdown.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    drop(listener);
    connections.close();
    if tokio::time::timeout(grace, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            "HTTP connections still open after the grace period; stopping anyway"
        );
    }
}
