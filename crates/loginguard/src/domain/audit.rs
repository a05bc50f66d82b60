//! The audit trail's entry: one change to one session (or one refused
//! attempt), as the stores keep it and every reader sees it.
//!
//! One entry per session affected, so a consumer (the admin view, the
//! `audit` command, webhooks) maps entries 1:1 to what happened: a sign-in
//! that pushed two sessions out is three entries. The stored JSON uses the
//! short names below (the Redis scripts write the same shape, see
//! docs/redis.md), so they must not change; fields that do not apply are
//! left out. Nothing secret is in it: no token, token hash, password or
//! password fingerprint. No I/O here; ids are given by the log that keeps
//! the entry.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::clock::Millis;
use super::device::DeviceName;
use super::reason::{Actor, Reason};
use super::session::{Session, SessionId};
use super::username::Username;

/// What an entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    /// A session was created (a password sign-in or a trusted backend's).
    SignedIn,
    /// A wrong password for an account that exists; changes nothing in the
    /// store, so the sign-in use case appends it.
    SignInFailed,
    /// The right password, refused by `deny_new`: no session was created.
    Denied,
    /// A session ended with reason `logout`.
    SignedOut,
    /// A session ended for any other reason but expiry (`duplicate_login`,
    /// `revoked_by_admin`, ...).
    Revoked,
    /// A session ended because it expired (idle or absolute).
    Expired,
}

impl AuditKind {
    /// The kind of entry a session ended with `reason` gets.
    pub fn ended(reason: Reason) -> Self {
        match reason {
            Reason::Logout => AuditKind::SignedOut,
            Reason::Expired => AuditKind::Expired,
            _ => AuditKind::Revoked,
        }
    }

    /// The wire name (`signed_in`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::SignedIn => "signed_in",
            AuditKind::SignInFailed => "sign_in_failed",
            AuditKind::Denied => "denied",
            AuditKind::SignedOut => "signed_out",
            AuditKind::Revoked => "revoked",
            AuditKind::Expired => "expired",
        }
    }
}

/// What is appended: everything but the id, which the log assigns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub at: Millis,
    #[serde(rename = "k")]
    pub kind: AuditKind,
    #[serde(rename = "u")]
    pub username: Username,
    /// The session concerned; none for a refused attempt.
    #[serde(rename = "id", default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<SessionId>,
    /// The session's (or the attempt's) device and IP.
    #[serde(rename = "d", default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Why a session ended; none for the other kinds.
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// Who ended it, as `force_logout.by` tells it (the new device of a
    /// `duplicate_login`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<Actor>,
    /// The name of the instance that made the change.
    #[serde(rename = "i")]
    pub instance: String,
}

impl AuditRecord {
    /// `session` was created at `at`.
    pub fn signed_in(session: &Session, at: Millis, instance: &str) -> Self {
        Self::of_session(AuditKind::SignedIn, session, None, None, at, instance)
    }

    /// `session` ended at `at` for `reason`.
    pub fn ended(
        session: &Session,
        reason: Reason,
        by: Option<Actor>,
        at: Millis,
        instance: &str,
    ) -> Self {
        let kind = AuditKind::ended(reason);
        Self::of_session(kind, session, Some(reason), by, at, instance)
    }

    /// `attempt` (never stored) was refused by `deny_new`.
    pub fn denied(attempt: &Session, at: Millis, instance: &str) -> Self {
        AuditRecord {
            session_id: None,
            ..Self::of_session(AuditKind::Denied, attempt, None, None, at, instance)
        }
    }

    /// A wrong password for `username` from `device` at `ip`.
    pub fn sign_in_failed(
        username: &Username,
        device: &DeviceName,
        ip: &str,
        at: Millis,
        instance: &str,
    ) -> Self {
        AuditRecord {
            at,
            kind: AuditKind::SignInFailed,
            username: username.clone(),
            session_id: None,
            device: Some(device.clone()),
            ip: Some(ip.to_owned()),
            reason: None,
            by: None,
            instance: instance.to_owned(),
        }
    }

    fn of_session(
        kind: AuditKind,
        s: &Session,
        reason: Option<Reason>,
        by: Option<Actor>,
        at: Millis,
        instance: &str,
    ) -> Self {
        AuditRecord {
            at,
            kind,
            username: s.username.clone(),
            session_id: Some(s.session_id.clone()),
            device: Some(s.device.clone()),
            ip: Some(s.ip.clone()),
            reason,
            by,
            instance: instance.to_owned(),
        }
    }
}

/// An entry's place in its log: milliseconds and a sequence number, the
/// shape of a Redis Stream id (`1733100000000-0`). Ids only grow, so the
/// last id shown is the cursor of the next page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AuditId {
    pub ms: u64,
    pub seq: u64,
}

/// Not an audit entry id.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed audit entry id")]
pub struct MalformedAuditId;

impl AuditId {
    /// The id that follows `self` for an entry appended at `now`.
    pub fn next(self, now: Millis) -> AuditId {
        if now.0 > self.ms {
            AuditId { ms: now.0, seq: 0 }
        } else {
            AuditId {
                ms: self.ms,
                seq: self.seq.saturating_add(1),
            }
        }
    }
}

impl FromStr for AuditId {
    type Err = MalformedAuditId;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let (ms, seq) = raw.split_once('-').ok_or(MalformedAuditId)?;
        let number = |s: &str| {
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u64>().ok())
                .flatten()
                .ok_or(MalformedAuditId)
        };
        Ok(AuditId {
            ms: number(ms)?,
            seq: number(seq)?,
        })
    }
}

impl fmt::Display for AuditId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// An appended record and its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: AuditId,
    pub record: AuditRecord,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn ids_parse_print_and_only_grow() {
        let id: AuditId = "1733100000000-7".parse().unwrap();
        assert_eq!(
            id,
            AuditId {
                ms: 1_733_100_000_000,
                seq: 7
            }
        );
        assert_eq!(id.to_string(), "1733100000000-7");
        for bad in [
            "",
            "-",
            "1-",
            "-1",
            "1-2-3",
            "a-1",
            "+1-0",
            "1 -0",
            "99999999999999999999-0",
        ] {
            assert!(bad.parse::<AuditId>().is_err(), "{bad}");
        }
        assert_eq!(id.next(Millis(id.ms - 5)), AuditId { ms: id.ms, seq: 8 });
        assert_eq!(
            id.next(Millis(id.ms + 1)),
            AuditId {
                ms: id.ms + 1,
                seq: 0
            }
        );
    }

    #[test]
    fn the_kind_follows_the_reason() {
        assert_eq!(AuditKind::ended(Reason::Logout), AuditKind::SignedOut);
        assert_eq!(AuditKind::ended(Reason::Expired), AuditKind::Expired);
        for r in Reason::ALL {
            if !matches!(r, Reason::Logout | Reason::Expired) {
                assert_eq!(AuditKind::ended(r), AuditKind::Revoked, "{r:?}");
            }
        }
    }

    #[test]
    fn the_stored_shape_keeps_nothing_secret() {
        let (s, token) = Session::sample(1, Millis(5), Duration::from_secs(60));
        let by = Actor::of(&s, Millis(9));
        let record = AuditRecord::ended(&s, Reason::DuplicateLogin, Some(by), Millis(9), "i1");
        let json = serde_json::to_string(&record).unwrap();
        assert!(!json.contains(token.hash().as_str()), "{json}");
        assert!(!json.contains("pw") && !json.contains("\"h\""), "{json}");
        let back: AuditRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back, record);
        let denied = serde_json::to_value(AuditRecord::denied(&s, Millis(9), "i1")).unwrap();
        assert_eq!(denied["k"], "denied");
        assert!(denied.get("id").is_none() && denied.get("r").is_none());
        assert_eq!(denied["d"], "PC1");
    }
}
