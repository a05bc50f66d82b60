//! A TCP proxy for tests that can hold a server's replies: in front of a real
//! `redis-server`, Redis runs a command at once but its answer comes late, as
//! when the link stalls between a command and its reply.
//!
//! Bytes pass both ways unchanged. While a hold is set, a reply chunk carrying
//! its marker (say, a sign-in script's `created`) is passed on that late; later
//! chunks of the connection queue behind it, so order is kept. Dropping the
//! proxy stops accepting; open connections end with the test's runtime.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, DropGuard};

/// A proxy on a loopback port, forwarding to one upstream port.
pub struct DelayProxy {
    pub port: u16,
    hold: Arc<Mutex<Option<Hold>>>,
    _stop: DropGuard,
}

/// Which replies to hold, and for how long.
struct Hold {
    marker: Vec<u8>,
    late_by: Duration,
}

impl Hold {
    /// When a chunk that arrived now may be passed on.
    fn due(hold: &Mutex<Option<Hold>>, chunk: &[u8]) -> Instant {
        let late_by = match &*hold.lock() {
            Some(h) if chunk.windows(h.marker.len()).any(|w| w == h.marker) => h.late_by,
            _ => Duration::ZERO,
        };
        Instant::now() + late_by
    }
}

impl DelayProxy {
    /// Listens on a free port and forwards every connection to `upstream`.
    pub async fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port for the proxy");
        let port = listener.local_addr().expect("bound").port();
        let hold = Arc::new(Mutex::new(None));
        let stop = CancellationToken::new();
        tokio::spawn(accept(listener, upstream, hold.clone(), stop.clone()));
        DelayProxy {
            port,
            hold,
            _stop: stop.drop_guard(),
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Replies carrying `marker` that arrive from now on are passed on `late_by` late.
    pub fn hold_replies(&self, marker: &str, late_by: Duration) {
        *self.hold.lock() = Some(Hold {
            marker: marker.as_bytes().to_vec(),
            late_by,
        });
    }

    /// Replies arriving from now on are passed on at once.
    pub fn release(&self) {
        *self.hold.lock() = None;
    }
}

async fn accept(
    listener: TcpListener,
    upstream: u16,
    hold: Arc<Mutex<Option<Hold>>>,
    stop: CancellationToken,
) {
    loop {
        let client = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((client, _)) => client,
                Err(_) => continue,
            },
        };
        let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
            continue;
        };
        let (mut client_read, client_write) = client.into_split();
        let (mut server_read, mut server_write) = server.into_split();
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        });
        let (due, queued) = mpsc::unbounded_channel();
        let hold = hold.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n @ 1..) = server_read.read(&mut buf).await {
                let at = Hold::due(&hold, &buf[..n]);
                if due.send((at, buf[..n].to_vec())).is_err() {
                    return;
                }
            }
        });
        tokio::spawn(pass_on(queued, client_write));
    }
}

/// Writes each chunk to the client once it is due.
async fn pass_on(
    mut queued: mpsc::UnboundedReceiver<(Instant, Vec<u8>)>,
    mut client: tokio::net::tcp::OwnedWriteHalf,
) {
    while let Some((at, bytes)) = queued.recv().await {
        tokio::time::sleep_until(at).await;
        if client.write_all(&bytes).await.is_err() {
            return;
        }
    }
}
