//! The HTTP/1.1 accept loop: serves the router on each connection.
//!
//! Instead of `axum::serve`, because it sets no header read timeout: a
//! client that opens a connection and never finishes its request headers
//! would hold a descriptor forever. Here hyper closes it after
//! `HEADER_READ_TIMEOUT`. Connections are served with upgrades (WebSocket);
//! on shutdown each stops after its current request, and the loop waits for
//! them at most `grace`. With TLS, each connection's handshake runs in its
//! own task under the same timeout as the headers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use super::tls::TlsListener;

/// How long a client may take to send a request's headers (also bounds how
/// long an idle keep-alive connection is kept).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// hyper's own limits answer with an empty body, so they sit well outside
/// ours (`limits.rs`: 100 header lines, 64 KiB of headers, 8 KiB of URI),
/// which answer with the JSON error shape. Past these, hyper's bare 431
/// remains (and its 414 past 64 KiB of URI, which it does not let us move).
const HYPER_MAX_HEADERS: usize = 1024;
const HYPER_MAX_BUF: usize = 256 * 1024;

/// Serves `router` (over TLS when `tls` is given) until `shutdown`, then
/// drains connections for at most `grace`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<Arc<TlsListener>>,
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
        let (builder, router, shutdown) = (builder.clone(), router.clone(), shutdown.clone());
        let acceptor = tls.as_ref().map(|t| t.acceptor());
        connections.spawn(async move {
            let Some(acceptor) = acceptor else {
                return serve_connection(builder, stream, router, peer, shutdown).await;
            };
            // A client that never finishes its handshake is dropped like one
            // that never finishes its headers.
            match tokio::time::timeout(HEADER_READ_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => serve_connection(builder, tls, router, peer, shutdown).await,
                Ok(Err(e)) => tracing::debug!(error = %e, %peer, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
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

/// Serves one connection's requests (and its upgrade, if any) until it
/// ends; on shutdown it stops after the request in progress.
async fn serve_connection<I>(
    builder: http1::Builder,
    io: I,
    router: Router,
    peer: SocketAddr,
    shutdown: CancellationToken,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = router.map_request(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
        req
    });
    let conn = builder
        .serve_connection(TokioIo::new(io), TowerToHyperService::new(service))
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}
