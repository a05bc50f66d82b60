//! WebSocket message types: what clients may send and what the server pushes.
//!
//! Serde-tagged on `type`, exactly as PROTOCOL.md spells them. Server
//! messages are rendered to JSON once per event and shared by every socket
//! that receives them.

use serde::{Deserialize, Serialize};

use crate::domain::json::{self, JsonError};
use crate::domain::{Actor, Millis, Reason, SessionId};

/// Longest text message accepted, in bytes; larger closes with 1009.
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// A message from a client.
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Either `token`, or `cookie: true` for the token of the upgrade
    /// request's cookie (cookie mode, allow-listed origins only).
    Auth {
        #[serde(default)]
        token: Option<String>,
        #[serde(default)]
        cookie: bool,
    },
    Ping,
}

impl ClientMessage {
    /// The only way a client frame is read: a JSON object (`["ping"]` is not
    /// a ping), with a known `type` and its fields.
    pub fn decode(text: &str) -> Result<Self, JsonError> {
        json::from_object(text.as_bytes())
    }
}

/// `by`, as the wire shows it.
#[derive(Debug, Serialize, PartialEq, Eq, Clone, utoipa::ToSchema)]
pub struct ActorView {
    pub device: String,
    pub ip: String,
    #[schema(format = DateTime)]
    pub at: String,
}

impl From<&Actor> for ActorView {
    fn from(a: &Actor) -> Self {
        ActorView {
            device: a.device.as_str().to_owned(),
            ip: a.ip.clone(),
            at: a.at.to_rfc3339(),
        }
    }
}

/// A message from the server.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage<'a> {
    AuthOk {
        session_id: &'a SessionId,
        username: &'a str,
        server_time: String,
    },
    Pong {
        server_time: String,
    },
    ForceLogout {
        reason: Reason,
        session_id: &'a SessionId,
        message: &'static str,
        by: Option<ActorView>,
        at: String,
    },
    LoginBlocked {
        by: ActorView,
    },
    /// The account's sessions changed (one was added or ended); a page
    /// showing the list should fetch it again.
    SessionsChanged,
    Error {
        code: &'static str,
    },
}

impl ServerMessage<'_> {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("server messages always serialise")
    }
}

/// The `force_logout` push for one session.
pub fn force_logout(id: &SessionId, reason: Reason, by: Option<&Actor>, at: Millis) -> String {
    ServerMessage::ForceLogout {
        reason,
        session_id: id,
        message: reason.message(),
        by: by.map(ActorView::from),
        at: at.to_rfc3339(),
    }
    .to_json()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::DeviceName;

    #[test]
    fn force_logout_has_the_wire_shape() {
        let id = SessionId::from_bytes([1; 16]);
        let by = Actor {
            device: DeviceName::parse("Chrome on PC2").unwrap(),
            ip: "203.0.113.7".into(),
            at: Millis(0),
        };
        let v: serde_json::Value = serde_json::from_str(&force_logout(
            &id,
            Reason::DuplicateLogin,
            Some(&by),
            Millis(2),
        ))
        .unwrap();
        assert_eq!(v["type"], "force_logout");
        assert_eq!(v["reason"], "duplicate_login");
        assert_eq!(v["session_id"], id.as_str());
        assert_eq!(v["by"]["device"], "Chrome on PC2");
        assert_eq!(v["by"]["at"], "1970-01-01T00:00:00.000Z");
        assert_eq!(v["at"], "1970-01-01T00:00:00.002Z");
    }

    #[test]
    fn client_messages_parse_strictly() {
        assert_eq!(
            ClientMessage::decode(r#"{"type":"ping"}"#).unwrap(),
            ClientMessage::Ping
        );
        assert_eq!(
            ClientMessage::decode(r#"{"type":"auth","token":"t"}"#).unwrap(),
            ClientMessage::Auth {
                token: Some("t".into()),
                cookie: false
            }
        );
        assert_eq!(
            ClientMessage::decode(r#"{"type":"auth","cookie":true}"#).unwrap(),
            ClientMessage::Auth {
                token: None,
                cookie: true
            }
        );
        for bad in [
            r#"{"type":"auth","cookie":1}"#,
            r#"{"type":"nope"}"#,
            r#"["ping"]"#,
            r#"["auth","t"]"#,
        ] {
            assert!(ClientMessage::decode(bad).is_err(), "{bad}");
        }
        assert_eq!(
            ServerMessage::SessionsChanged.to_json(),
            r#"{"type":"sessions_changed"}"#
        );
    }
}
