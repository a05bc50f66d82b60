//! The prototype's wire protocol as bench/prototype speaks it: JSON sign-in
//! that answers a `session_id`, a session check with the id in the path, and
//! `/ws/{session_id}` with plain-text "ping"/"pong" and a JSON `force_logout`.
//!
//! Calls only; no timing and no tasks. Scenarios take their own timestamps.

use std::net::IpAddr;
use std::time::Instant;

use futures_util::{SinkExt, StreamExt};
use hyper::Method;
use serde::Deserialize;
use serde_json::json;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

use crate::http::HttpConn;
use crate::target::Target;
use crate::ws::Ws;
use crate::LoadgenError;

/// What the prototype's sign-in answers (other fields are ignored).
#[derive(Debug, Deserialize)]
struct LoginReply {
    session_id: String,
}

/// `POST /api/auth/login`; the new session's id.
pub async fn login(
    conn: &mut HttpConn,
    username: &str,
    password: &str,
) -> Result<String, LoadgenError> {
    let body = json!({"username": username, "password": password}).to_string();
    let reply = conn
        .send(Method::POST, "/api/auth/login", None, Some(body))
        .await?
        .expect("prototype sign-in", 200)?;
    session_id_of(&reply.body)
}

/// The session id in a sign-in reply body.
fn session_id_of(body: &[u8]) -> Result<String, LoadgenError> {
    let reply: LoginReply = serde_json::from_slice(body)?;
    if reply.session_id.is_empty() {
        return Err(LoadgenError::Protocol("empty session_id".into()));
    }
    Ok(reply.session_id)
}

/// The session-check path for `session_id`.
pub fn check_path(session_id: &str) -> String {
    format!("/api/auth/check-session/{session_id}")
}

/// `GET /api/auth/check-session/{id}`; 200.
pub async fn check_session(conn: &mut HttpConn, session_id: &str) -> Result<(), LoadgenError> {
    conn.send(Method::GET, &check_path(session_id), None, None)
        .await?
        .expect("prototype session check", 200)?;
    Ok(())
}

/// The WebSocket URL of `session_id`'s socket on `target`.
pub fn ws_url(target: &Target, session_id: &str) -> String {
    format!("ws://{}/ws/{session_id}", target.addr)
}

/// Small client buffers: thousands of these share one load generator.
fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
}

/// Opens `/ws/{session_id}` (from `source` when given) and waits for the
/// answer to one "ping": once "pong" is back, the server has registered the
/// socket (it does so before reading), so a kick can reach it. Unbounded: the
/// caller (`Dial::open`) sets the deadline.
pub async fn open(
    target: &Target,
    source: Option<IpAddr>,
    session_id: &str,
) -> Result<Ws, LoadgenError> {
    let stream = target.connect(source).await?;
    let url = ws_url(target, session_id);
    let (mut ws, _) =
        tokio_tungstenite::client_async_with_config(url, stream, Some(config())).await?;
    ws.send(Message::Text("ping".into())).await?;
    match next_text(&mut ws).await? {
        Some(t) if t == "pong" => Ok(ws),
        Some(t) => Err(LoadgenError::Protocol(format!("expected pong, got {t:?}"))),
        None => Err(LoadgenError::Protocol("closed before pong".into())),
    }
}

/// Reads until a `force_logout` arrives; when it was read. Runs until then:
/// the caller bounds it.
pub async fn await_force_logout(mut ws: Ws) -> Result<Instant, LoadgenError> {
    loop {
        match next_text(&mut ws).await? {
            Some(t) if is_force_logout(&t) => return Ok(Instant::now()),
            Some(_) => continue,
            None => return Err(LoadgenError::Protocol("closed before force_logout".into())),
        }
    }
}

/// True for the prototype's `{"type": "force_logout", ...}` (not for "pong").
pub fn is_force_logout(text: &str) -> bool {
    #[derive(Deserialize)]
    struct Typed {
        #[serde(rename = "type")]
        kind: String,
    }
    serde_json::from_str::<Typed>(text).is_ok_and(|m| m.kind == "force_logout")
}

/// The next text message; `None` once the socket closed.
async fn next_text(ws: &mut Ws) -> Result<Option<String>, LoadgenError> {
    while let Some(frame) = ws.next().await {
        match frame? {
            Message::Text(t) => return Ok(Some(t.to_string())),
            Message::Close(_) => return Ok(None),
            _ => continue,
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_reply_gives_the_session_id() {
        let body =
            br#"{"success":true,"session_id":"c07d6da1-01ca","username":"user1","message":"ok"}"#;
        assert_eq!(session_id_of(body).unwrap(), "c07d6da1-01ca");
        assert!(session_id_of(br#"{"success":true}"#).is_err());
        assert!(session_id_of(br#"{"session_id":""}"#).is_err());
        assert!(session_id_of(b"not json").is_err());
    }

    #[test]
    fn force_logout_is_told_from_other_messages() {
        assert!(is_force_logout(
            r#"{"type": "force_logout", "message": "x", "timestamp": "t"}"#
        ));
        assert!(!is_force_logout("pong"));
        assert!(!is_force_logout(r#"{"type": "session_expired"}"#));
        assert!(!is_force_logout(r#"{"message": "force_logout"}"#));
    }

    #[test]
    fn paths_carry_the_session_id() {
        let t = Target::parse("http://127.0.0.1:8000").unwrap();
        assert_eq!(ws_url(&t, "abc"), "ws://127.0.0.1:8000/ws/abc");
        assert_eq!(check_path("abc"), "/api/auth/check-session/abc");
        let v6 = Target::parse("http://[::1]:8000").unwrap();
        assert_eq!(ws_url(&v6, "abc"), "ws://[::1]:8000/ws/abc");
    }
}
