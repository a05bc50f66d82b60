//! One keep-alive HTTP/1.1 connection to a target, on hyper's client conn.
//!
//! Deliberately lean (no pool, no redirects, no TLS) so that the load
//! generator spends as little of the shared CPU as possible. A connection
//! sends one request at a time; a scenario opens as many as it needs.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{header, Method, Request};
use hyper_util::rt::TokioIo;

use crate::target::Target;
use crate::LoadgenError;

/// No single request may take longer than this.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A status and a body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Bytes,
}

impl Reply {
    /// `Ok(self)` when the status is `want`, else an error naming `what`.
    pub fn expect(self, what: &'static str, want: u16) -> Result<Reply, LoadgenError> {
        if self.status == want {
            Ok(self)
        } else {
            Err(LoadgenError::Status {
                what,
                status: self.status,
                body: String::from_utf8_lossy(&self.body).into_owned(),
            })
        }
    }
}

/// A connection; requests on it run one after another.
pub struct HttpConn {
    sender: SendRequest<Full<Bytes>>,
    host: String,
}

impl HttpConn {
    pub async fn connect(target: &Target) -> Result<HttpConn, LoadgenError> {
        let stream = target.connect(None).await?;
        let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
        // The connection task ends when the sender is dropped or the peer closes;
        // its error, if any, reaches the next `send` on this connection.
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(HttpConn {
            sender,
            host: target.addr.to_string(),
        })
    }

    /// Sends a request (JSON body when given) and reads the whole reply,
    /// within `REQUEST_TIMEOUT`.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        token: Option<&str>,
        json: Option<String>,
    ) -> Result<Reply, LoadgenError> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &self.host);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let body = match json {
            Some(j) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Full::new(Bytes::from(j))
            }
            None => Full::new(Bytes::new()),
        };
        let req = req
            .body(body)
            .map_err(|e| LoadgenError::Arg(format!("cannot build a request for {path}: {e}")))?;
        let exchange = async {
            self.sender.ready().await?;
            let resp = self.sender.send_request(req).await?;
            let status = resp.status().as_u16();
            let body = resp.into_body().collect().await?.to_bytes();
            Ok(Reply { status, body })
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| LoadgenError::Timeout("HTTP request"))?
    }
}
