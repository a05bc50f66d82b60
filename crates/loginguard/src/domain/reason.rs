//! Why a session ended, and what is remembered about it afterwards.
//!
//! `Reason` is the closed list of PROTOCOL.md (both parts); `Actor` describes the sign-in or
//! session that caused a revocation (the `by` object); a `Tombstone` is what
//! the store keeps after a session ends so that a device coming back with its
//! old token learns why (invariant 5). It lives as long as the token would
//! have, and at least one idle timeout after the ending.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::clock::Millis;
use super::device::DeviceName;
use super::session::Session;
use super::token::TokenHash;

/// The reasons a session can end before its owner signs out on that device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    DuplicateLogin,
    Logout,
    RevokedByUser,
    RevokedByAdmin,
    Expired,
    PasswordChanged,
    AccountRemoved,
    /// A trusted backend ended it (`/api/v1`).
    RevokedByApp,
    /// The same device (`device_id`) signed in again and took its place.
    Replaced,
}

impl Reason {
    pub const ALL: [Reason; 9] = [
        Reason::DuplicateLogin,
        Reason::Logout,
        Reason::RevokedByUser,
        Reason::RevokedByAdmin,
        Reason::Expired,
        Reason::PasswordChanged,
        Reason::AccountRemoved,
        Reason::RevokedByApp,
        Reason::Replaced,
    ];

    /// The wire name (`duplicate_login`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::DuplicateLogin => "duplicate_login",
            Reason::Logout => "logout",
            Reason::RevokedByUser => "revoked_by_user",
            Reason::RevokedByAdmin => "revoked_by_admin",
            Reason::Expired => "expired",
            Reason::PasswordChanged => "password_changed",
            Reason::AccountRemoved => "account_removed",
            Reason::RevokedByApp => "revoked_by_app",
            Reason::Replaced => "replaced",
        }
    }

    pub fn parse(s: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The plain-words sentence sent in `force_logout.message`.
    pub fn message(self) -> &'static str {
        match self {
            Reason::DuplicateLogin => {
                "You were signed out because your account signed in on another device."
            }
            Reason::Logout => "You signed out.",
            Reason::RevokedByUser => "You were signed out from another of your sessions.",
            Reason::RevokedByAdmin => "An administrator signed you out.",
            Reason::Expired => "Your session expired.",
            Reason::PasswordChanged => {
                "You were signed out because your password changed. Sign in with the new one."
            }
            Reason::AccountRemoved => "You were signed out because your account was removed.",
            Reason::RevokedByApp => "The application signed you out.",
            Reason::Replaced => "You signed in again on this device, in another tab or window.",
        }
    }
}

/// The session behind a revocation: device, IP and the time it acted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    #[serde(rename = "d")]
    pub device: DeviceName,
    pub ip: String,
    pub at: Millis,
}

impl Actor {
    /// `session` acting at `at`.
    pub fn of(session: &Session, at: Millis) -> Self {
        Actor {
            device: session.device.clone(),
            ip: session.ip.clone(),
            at,
        }
    }
}

/// What remains of an ended session until its token would have expired anyway.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tombstone {
    #[serde(rename = "h")]
    pub token_hash: TokenHash,
    #[serde(rename = "r")]
    pub reason: Reason,
    #[serde(rename = "t")]
    pub revoked_at: Millis,
    pub by: Option<Actor>,
    /// When the tombstone itself may be forgotten.
    #[serde(rename = "e")]
    pub until: Millis,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for r in Reason::ALL {
            assert_eq!(Reason::parse(r.as_str()), Some(r));
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.as_str()));
        }
        assert_eq!(Reason::parse("nope"), None);
    }
}
