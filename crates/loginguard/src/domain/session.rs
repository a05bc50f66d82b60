//! A session: one sign-in of one account on one device.
//!
//! `Session` is the stored record (never the token, only its hash) and the
//! single place that decides whether a session has expired, idle or absolute.
//! The Redis store keeps the same fields in MessagePack by position, mapped
//! to these serde names (`store/redis/record.rs`), and still reads records
//! it stored as this JSON before, which is why the names must not change.
//! Fields added later (`o`, `pw`, `dc`, `di`) have defaults, so older records still load.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::clock::Millis;
use super::device::DeviceName;
use super::device_class::{ClientDeviceId, DeviceClass};
use super::provenance::{Origin, PasswordFingerprint};
use super::token::TokenHash;
use super::username::Username;

/// Public session id: `s_` and 32 lowercase hex digits. Safe to show and log.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(example = "s_2b9f0c1e4a6d8b3f5e7a9c1d3b5f7a9e")]
pub struct SessionId(String);

/// Not a session id of ours (HTTP 404 on lookups by id).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed session id")]
pub struct MalformedSessionId;

impl SessionId {
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        SessionId(format!("s_{}", hex::encode(bytes)))
    }

    pub fn parse(raw: &str) -> Result<Self, MalformedSessionId> {
        let hex_part = raw.strip_prefix("s_").ok_or(MalformedSessionId)?;
        let ok = hex_part.len() == 32
            && hex_part
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
        if ok {
            Ok(SessionId(raw.to_owned()))
        } else {
            Err(MalformedSessionId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for SessionId {
    type Error = MalformedSessionId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        SessionId::parse(&s)
    }
}

impl From<SessionId> for String {
    fn from(s: SessionId) -> String {
        s.0
    }
}

/// How long sessions may live: `idle` since last use, `absolute` since creation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetimes {
    pub idle: Duration,
    pub absolute: Duration,
    /// A use refreshes `last_seen_at` in the store only when the stored value
    /// is at least this old, so reads do not turn into writes on every request.
    pub touch_after: Duration,
}

/// The stored record of a live session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    #[serde(rename = "id")]
    pub session_id: SessionId,
    #[serde(rename = "u")]
    pub username: Username,
    #[serde(rename = "d")]
    pub device: DeviceName,
    pub ip: String,
    #[serde(rename = "ua")]
    pub user_agent: String,
    #[serde(rename = "c")]
    pub created_at: Millis,
    #[serde(rename = "l")]
    pub last_seen_at: Millis,
    /// The absolute end of life (created_at + absolute lifetime).
    #[serde(rename = "e")]
    pub expires_at: Millis,
    #[serde(rename = "h")]
    pub token_hash: TokenHash,
    /// What created it.
    #[serde(rename = "o", default)]
    pub origin: Origin,
    /// The account's password fingerprint at sign-in; `None` in records
    /// stored before fingerprints existed.
    #[serde(rename = "pw", default, skip_serializing_if = "Option::is_none")]
    pub password: Option<PasswordFingerprint>,
    /// `web`, `mobile`, ...; `None` in records stored before classes existed
    /// (see `class`).
    #[serde(rename = "dc", default, skip_serializing_if = "Option::is_none")]
    pub device_class: Option<DeviceClass>,
    /// The client's own id for its device (`device_id`): a sign-in from the
    /// same id replaces this session. Never shown.
    #[serde(rename = "di", default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<ClientDeviceId>,
}

impl Session {
    /// Longest User-Agent kept with a session, in characters. It is only
    /// shown and logged, and a client must not be able to grow its
    /// account's record (and every list of it) with a huge header.
    pub const MAX_USER_AGENT_CHARS: usize = 256;

    /// A client's User-Agent as stored: cut to `MAX_USER_AGENT_CHARS`.
    pub fn stored_user_agent(raw: Option<&str>) -> String {
        raw.unwrap_or_default()
            .chars()
            .take(Self::MAX_USER_AGENT_CHARS)
            .collect()
    }

    /// When it expires unless used again: its absolute end or `idle` after
    /// its last use, whichever comes first.
    pub fn ends_at(&self, idle: Duration) -> Millis {
        self.expires_at.min(self.last_seen_at.plus(idle))
    }

    /// Expired when past its absolute end or unused for longer than `idle`.
    pub fn is_expired(&self, now: Millis, idle: Duration) -> bool {
        now >= self.ends_at(idle)
    }

    /// Whether a use at `now` should be written back to the store.
    pub fn needs_touch(&self, now: Millis, touch_after: Duration) -> bool {
        now.since(self.last_seen_at) >= touch_after.as_millis() as u64
    }

    /// Its device class; a record from before classes existed gets the one
    /// its User-Agent implies, as a new sign-in would.
    pub fn class(&self) -> DeviceClass {
        self.device_class
            .clone()
            .unwrap_or_else(|| DeviceClass::from_user_agent(&self.user_agent))
    }

    /// Oldest first; the id breaks ties so every backend orders alike.
    pub fn age_order(a: &Session, b: &Session) -> std::cmp::Ordering {
        (a.created_at, &a.session_id).cmp(&(b.created_at, &b.session_id))
    }
}

#[cfg(test)]
impl Lifetimes {
    /// 30 min idle, 12 h absolute, touch after 1 min: the unit tests' usual.
    pub(crate) const SAMPLE: Lifetimes = Lifetimes {
        idle: Duration::from_secs(1800),
        absolute: Duration::from_secs(43_200),
        touch_after: Duration::from_secs(60),
    };
}

#[cfg(test)]
impl Session {
    /// Session number `n` of user1, device `PC<n>`, created at `at` and living
    /// `absolute`, with its token: the fixture of the crate's unit tests.
    pub(crate) fn sample(n: u8, at: Millis, absolute: Duration) -> (Session, super::Token) {
        let user = Username::parse("user1").expect("valid name");
        let token = super::Token::issue(&user, [n; 16], [n; 32]);
        let session = Session {
            session_id: token.session_id().clone(),
            username: user,
            device: DeviceName::parse(&format!("PC{n}")).expect("valid device"),
            ip: "127.0.0.1".into(),
            user_agent: String::new(),
            created_at: at,
            last_seen_at: at,
            expires_at: at.plus(absolute),
            token_hash: token.hash(),
            origin: Origin::Password,
            password: Some(PasswordFingerprint::of("sample")),
            device_class: Some(DeviceClass::parse("web").expect("valid class")),
            device_id: None,
        };
        (session, token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_id_parse() {
        let id = SessionId::from_bytes([0xab; 16]);
        assert_eq!(SessionId::parse(id.as_str()), Ok(id));
        for bad in [
            "",
            "s_",
            "x_abababababababababababababababab",
            "s_ABABABABABABABABABABABABABABABAB",
            "s_abab",
        ] {
            assert!(SessionId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn records_from_before_origin_and_fingerprint_still_load() {
        let (s, _) = Session::sample(1, Millis(5), Duration::from_secs(60));
        let mut old = serde_json::to_value(&s).unwrap();
        let fields = old.as_object_mut().unwrap();
        assert_eq!(fields.remove("o"), Some("password".into()));
        assert!(fields.remove("pw").is_some());
        assert_eq!(fields.remove("dc"), Some("web".into()));
        let loaded: Session = serde_json::from_value(old).unwrap();
        assert_eq!(loaded.origin, Origin::Password);
        assert_eq!(loaded.password, None);
        assert_eq!(loaded.device_class, None);
        assert_eq!(
            loaded.class().as_str(),
            "web",
            "derived from the User-Agent"
        );
        assert_eq!(loaded.session_id, s.session_id);
    }
}
