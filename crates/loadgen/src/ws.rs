//! WebSocket client side of PROTOCOL.md: connect (optionally bound to a chosen
//! loopback source address), authenticate, wait for a kick, ping.
//!
//! Buffers are kept small so that tens of thousands of sockets fit in one
//! client process. Nothing here spawns tasks; scenarios decide who owns a socket.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::target::Target;
use crate::LoadgenError;

/// An open WebSocket to a target.
pub type Ws = WebSocketStream<crate::tls::Stream>;

/// How long the close frame may take to follow `force_logout`.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// The fields of a server message that loadgen looks at.
#[derive(Debug, Deserialize)]
struct ServerMessage {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    reason: Option<String>,
}

/// How a socket ended before the message a caller waited for: what tells a
/// server's refusal (its close code) from a dropped connection.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// The server sent a close frame.
    Closed { code: u16, reason: String },
    /// A close frame with no code, or the connection ended without one.
    NoCode,
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ended::Closed { code, reason } if reason.is_empty() => write!(f, "close code {code}"),
            Ended::Closed { code, reason } => write!(f, "close code {code} ({reason})"),
            Ended::NoCode => f.write_str("the connection ended without a close code"),
        }
    }
}

/// A `force_logout` as it arrived on a socket.
#[derive(Debug)]
pub struct Kick {
    /// When the client read it.
    pub at: Instant,
    pub reason: String,
    /// The close code that followed (4001 expected), if one came in time.
    pub close_code: Option<u16>,
}

fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_message_size(Some(64 << 10))
        .max_frame_size(Some(64 << 10))
}

/// Connects to `target`'s `/ws`, from `source` when given.
pub async fn connect(target: &Target, source: Option<IpAddr>) -> Result<Ws, LoadgenError> {
    let stream = target.connect(source).await?;
    let (ws, _) =
        tokio_tungstenite::client_async_with_config(target.ws_url(), stream, Some(config()))
            .await?;
    Ok(ws)
}

/// Sends `auth` and expects `auth_ok` as the first message.
pub async fn authenticate(ws: &mut Ws, token: &str) -> Result<(), LoadgenError> {
    let auth = json!({"type": "auth", "token": token}).to_string();
    ws.send(Message::Text(auth.into())).await?;
    match next_message(ws).await? {
        Ok(m) if m.kind == "auth_ok" => Ok(()),
        Ok(m) => Err(LoadgenError::Protocol(format!(
            "expected auth_ok, got {} ({:?})",
            m.kind, m.reason
        ))),
        Err(ended) => Err(LoadgenError::Protocol(format!(
            "closed before auth_ok: {ended}"
        ))),
    }
}

/// Reads until `force_logout` (skipping other messages) and then the close
/// frame. Runs until then: the caller bounds it with a timeout.
pub async fn await_kick(mut ws: Ws) -> Result<Kick, LoadgenError> {
    kick_on(&mut ws)
        .await?
        .ok_or_else(|| LoadgenError::Protocol("closed before force_logout".into()))
}

/// Reads until `force_logout` and then the close frame (`Some`), or until
/// the socket ends without one (`None`). Runs until then.
pub async fn kick_on(ws: &mut Ws) -> Result<Option<Kick>, LoadgenError> {
    let (at, reason) = loop {
        match next_message(ws).await? {
            Ok(m) if m.kind == "force_logout" => {
                break (Instant::now(), m.reason.unwrap_or_default());
            }
            Ok(_) => continue,
            Err(_) => return Ok(None),
        }
    };
    let close_code = tokio::time::timeout(CLOSE_TIMEOUT, close_code(ws))
        .await
        .unwrap_or(None);
    Ok(Some(Kick {
        at,
        reason,
        close_code,
    }))
}

/// Sends `{"type":"ping"}` and waits for `pong`; returns the round trip.
pub async fn ping(ws: &mut Ws) -> Result<Duration, LoadgenError> {
    let sent = Instant::now();
    ws.send(Message::Text(r#"{"type":"ping"}"#.into())).await?;
    loop {
        match next_message(ws).await? {
            Ok(m) if m.kind == "pong" => return Ok(sent.elapsed()),
            Ok(_) => continue,
            Err(ended) => {
                return Err(LoadgenError::Protocol(format!(
                    "closed while waiting for pong: {ended}"
                )))
            }
        }
    }
}

/// Reads frames until the socket ends (answering protocol pings on the way);
/// returns the close code when the server sent one.
pub async fn close_code(ws: &mut Ws) -> Option<u16> {
    while let Some(frame) = ws.next().await {
        match frame {
            Ok(Message::Close(f)) => return f.map(|f| u16::from(f.code)),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
    None
}

/// The next text message, decoded, or how the socket ended instead.
async fn next_message(ws: &mut Ws) -> Result<Result<ServerMessage, Ended>, LoadgenError> {
    while let Some(frame) = ws.next().await {
        match frame? {
            Message::Text(t) => return Ok(Ok(serde_json::from_str(&t)?)),
            Message::Close(f) => return Ok(Err(ended(f))),
            _ => continue,
        }
    }
    Ok(Err(Ended::NoCode))
}

fn ended(frame: Option<CloseFrame>) -> Ended {
    frame.map_or(Ended::NoCode, |f| Ended::Closed {
        code: u16::from(f.code),
        reason: f.reason.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

    #[test]
    fn an_ending_names_the_servers_close_code_and_reason() {
        let frame = |code: u16, reason: &'static str| CloseFrame {
            code: CloseCode::from(code),
            reason: reason.into(),
        };
        let refused = ended(Some(frame(1013, "try again later")));
        assert_eq!(refused.to_string(), "close code 1013 (try again later)");
        assert_eq!(ended(Some(frame(1012, ""))).to_string(), "close code 1012");
        assert_eq!(ended(None), Ended::NoCode);
    }
}
