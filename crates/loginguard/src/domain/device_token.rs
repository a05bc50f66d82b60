//! Device tokens: what a browser that once signed in to an account keeps, so
//! that failures from elsewhere cannot lock it out (OWASP "device cookies").
//!
//! The layout only: `v1.<device id>.<signature>`, base64url without padding.
//! `auth::DeviceTokens` signs and checks; `http::extract` parses client input
//! here (length and alphabet only, so a token from a rotated key or an older
//! layout is simply not trusted rather than refused). Not a credential: it
//! never signs anyone in, it only picks which failure counter applies.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

const VERSION: &str = "v1";
/// Bytes of the random device id.
pub const DEVICE_ID_BYTES: usize = 16;
/// Bytes of the signature (HMAC-SHA256).
pub const DEVICE_MAC_BYTES: usize = 32;

/// A device token as the client sent it: 1–128 characters of
/// `[A-Za-z0-9._-]`. It may or may not be one we signed.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceToken(String);

/// The random id inside a device token: 22 base64url characters. Names the
/// device's own failure counter once the token's signature is checked.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId(String);

/// A `device_token` that is no token of any layout (HTTP 400).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("device_token must be 1 to 128 characters of A-Z a-z 0-9 . _ -")]
pub struct MalformedDeviceToken;

impl DeviceToken {
    pub const MAX_CHARS: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, MalformedDeviceToken> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if raw.is_empty() || raw.len() > Self::MAX_CHARS || !raw.chars().all(allowed) {
            return Err(MalformedDeviceToken);
        }
        Ok(DeviceToken(raw.to_owned()))
    }

    /// Lays out a token from its id and signature.
    pub fn new(id: &DeviceId, mac: &[u8; DEVICE_MAC_BYTES]) -> Self {
        DeviceToken(format!(
            "{VERSION}.{}.{}",
            id.as_str(),
            URL_SAFE_NO_PAD.encode(mac)
        ))
    }

    /// The id and signature, or `None` when this is not our layout.
    pub fn parts(&self) -> Option<(DeviceId, [u8; DEVICE_MAC_BYTES])> {
        let mut parts = self.0.split('.');
        let (Some(VERSION), Some(id), Some(mac), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let id = DeviceId::parse(id)?;
        let mac = URL_SAFE_NO_PAD.decode(mac).ok()?.try_into().ok()?;
        Some((id, mac))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Shows the id only: the token is an exemption worth keeping out of logs.
impl std::fmt::Debug for DeviceToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let id = self.parts().map(|(id, _)| id);
        f.debug_struct("DeviceToken")
            .field("id", &id)
            .finish_non_exhaustive()
    }
}

impl DeviceId {
    pub fn from_bytes(bytes: [u8; DEVICE_ID_BYTES]) -> Self {
        DeviceId(URL_SAFE_NO_PAD.encode(bytes))
    }

    fn parse(raw: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
        let bytes: [u8; DEVICE_ID_BYTES] = bytes.try_into().ok()?;
        // Only the canonical spelling, so one device has one counter.
        let id = Self::from_bytes(bytes);
        (id.0 == raw).then_some(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_its_layout() {
        let id = DeviceId::from_bytes([7; DEVICE_ID_BYTES]);
        let token = DeviceToken::new(&id, &[9; DEVICE_MAC_BYTES]);
        assert_eq!(token.as_str().len(), 2 + 1 + 22 + 1 + 43);
        let parsed = DeviceToken::parse(token.as_str()).unwrap();
        assert_eq!(parsed.parts(), Some((id, [9; DEVICE_MAC_BYTES])));
        assert!(!format!("{parsed:?}").contains(&token.as_str()[25..]));
    }

    #[test]
    fn parse_checks_only_length_and_alphabet() {
        for bad in ["", "a b", "a{b}", "é", &"a".repeat(129)] {
            assert_eq!(
                DeviceToken::parse(bad),
                Err(MalformedDeviceToken),
                "{bad:?}"
            );
        }
        let foreign = DeviceToken::parse("v2.something-else").unwrap();
        assert_eq!(foreign.parts(), None);
        let id = DeviceId::from_bytes([1; DEVICE_ID_BYTES]);
        let good = DeviceToken::new(&id, &[2; DEVICE_MAC_BYTES]);
        let extra = DeviceToken::parse(&format!("{}.x", good.as_str())).unwrap();
        assert_eq!(extra.parts(), None);
    }
}
