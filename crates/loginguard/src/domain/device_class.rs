//! `DeviceClass` and `ClientDeviceId`: the sign-in fields PROTOCOL.md Part 2 adds.
//!
//! A class (`web`, `mobile`, or any `[a-z0-9_-]{1,32}` a client names) is
//! stored with the session and shown in lists and introspection; without
//! one, the User-Agent decides between `mobile` and `web`. A device id is a
//! client's own random label for itself, parsed here so that every edge
//! refuses the same bad values. Parse, don't validate: both come only from
//! `parse` (or, for the class, `from_user_agent`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// 1–32 characters of `[a-z0-9_-]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(example = "web")]
pub struct DeviceClass(String);

/// Why a client-supplied class or device id was refused (HTTP 400).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DeviceTagError {
    #[error("device_class must be 1-32 characters of a-z, 0-9, _ and -")]
    Class,
    #[error("device_id must be 8-64 characters of A-Z, a-z, 0-9, _ and -")]
    Id,
}

/// User-Agent words that name a phone or a tablet. `sign_in.lua` keeps the
/// same list, for records stored before classes existed.
const MOBILE_MARKERS: [&str; 9] = [
    "Mobile",
    "Android",
    "iPhone",
    "iPad",
    "iPod",
    "Tablet",
    "Windows Phone",
    "Opera Mini",
    "Kindle",
];

impl DeviceClass {
    pub fn parse(raw: &str) -> Result<Self, DeviceTagError> {
        let ok = (1..=32).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if ok {
            Ok(DeviceClass(raw.to_owned()))
        } else {
            Err(DeviceTagError::Class)
        }
    }

    /// `mobile` when the User-Agent names a phone or tablet, else `web`.
    pub fn from_user_agent(ua: &str) -> Self {
        let mobile = MOBILE_MARKERS.iter().any(|m| ua.contains(m));
        DeviceClass(if mobile { "mobile" } else { "web" }.to_owned())
    }

    /// The client's class, or the User-Agent's.
    pub fn given_or_derived(given: Option<DeviceClass>, ua: Option<&str>) -> Self {
        given.unwrap_or_else(|| Self::from_user_agent(ua.unwrap_or("")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DeviceClass {
    type Error = DeviceTagError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        DeviceClass::parse(&s)
    }
}

impl From<DeviceClass> for String {
    fn from(c: DeviceClass) -> String {
        c.0
    }
}

/// 8–64 characters of `[A-Za-z0-9_-]`: a client's random id for itself. It
/// is a convenience, not a secret. Kept with the session (a sign-in from the
/// same id replaces it) and never shown.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientDeviceId(String);

impl ClientDeviceId {
    pub fn parse(raw: &str) -> Result<Self, DeviceTagError> {
        let ok = (8..=64).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if ok {
            Ok(ClientDeviceId(raw.to_owned()))
        } else {
            Err(DeviceTagError::Id)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ClientDeviceId {
    type Error = DeviceTagError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        ClientDeviceId::parse(&s)
    }
}

impl From<ClientDeviceId> for String {
    fn from(d: ClientDeviceId) -> String {
        d.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_the_protocol_alphabet() {
        for ok in ["web", "mobile", "tv_box-2", &"a".repeat(32)] {
            assert_eq!(DeviceClass::parse(ok).unwrap().as_str(), ok);
        }
        for bad in ["", "Web", "a b", "ü", &"a".repeat(33)] {
            assert_eq!(
                DeviceClass::parse(bad),
                Err(DeviceTagError::Class),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_user_agent_decides_between_mobile_and_web() {
        let phone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148";
        let pc = "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36";
        assert_eq!(DeviceClass::from_user_agent(phone).as_str(), "mobile");
        assert_eq!(DeviceClass::from_user_agent(pc).as_str(), "web");
        assert_eq!(DeviceClass::given_or_derived(None, None).as_str(), "web");
        let tv = DeviceClass::parse("tv").unwrap();
        assert_eq!(
            DeviceClass::given_or_derived(Some(tv.clone()), Some(phone)),
            tv
        );
    }

    #[test]
    fn device_ids_are_8_to_64_url_safe_characters() {
        for ok in ["abcdEFG8", "a-b_c-d_", &"Z".repeat(64)] {
            assert!(ClientDeviceId::parse(ok).is_ok(), "{ok:?}");
        }
        for bad in ["short", "with space", "dot.ted.id", &"Z".repeat(65)] {
            assert_eq!(
                ClientDeviceId::parse(bad),
                Err(DeviceTagError::Id),
                "{bad:?}"
            );
        }
    }
}
