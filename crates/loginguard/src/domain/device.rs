//! `DeviceName`: the label a session shows ("Chrome on PC2").
//!
//! Given by the client or, when missing or empty, derived from the
//! User-Agent. Client input is refused when over 64 characters or holding
//! control or formatting characters (`text::is_unsafe`); a derived name is cleaned and cut instead, because a
//! strange User-Agent must never make a valid sign-in fail.

use serde::{Deserialize, Serialize};

/// 0–64 Unicode scalar values, no control characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeviceName(String);

/// Why a client-supplied device name was refused (HTTP 400).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DeviceNameError {
    #[error("device must be at most 64 characters")]
    TooLong,
    #[error("device must not contain control or formatting characters")]
    ControlCharacter,
}

impl DeviceName {
    pub const MAX_CHARS: usize = 64;

    /// Parses what a client sent (empty is allowed: see `given_or_derived`).
    pub fn parse(raw: &str) -> Result<Self, DeviceNameError> {
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(DeviceNameError::TooLong);
        }
        if raw.chars().any(super::text::is_unsafe) {
            return Err(DeviceNameError::ControlCharacter);
        }
        Ok(DeviceName(raw.to_owned()))
    }

    /// A readable name from a User-Agent ("Firefox on Linux"), or the cleaned
    /// raw string when no known browser is recognised, or "Unknown device".
    pub fn from_user_agent(ua: Option<&str>) -> Self {
        let ua = ua.unwrap_or("").trim();
        let browser = [
            ("Edg/", "Edge"),
            ("OPR/", "Opera"),
            ("Firefox/", "Firefox"),
            ("Chromium/", "Chromium"),
            ("HeadlessChrome/", "Headless Chrome"),
            ("Chrome/", "Chrome"),
            ("Safari/", "Safari"),
        ]
        .iter()
        .find(|(needle, _)| ua.contains(needle))
        .map(|(_, name)| *name);
        let os = [
            ("Android", "Android"),
            ("iPhone", "iPhone"),
            ("iPad", "iPad"),
            ("Windows", "Windows"),
            ("Mac OS X", "macOS"),
            ("CrOS", "ChromeOS"),
            ("Linux", "Linux"),
        ]
        .iter()
        .find(|(needle, _)| ua.contains(needle))
        .map(|(_, name)| *name);
        let text = match (browser, os) {
            (Some(b), Some(o)) => format!("{b} on {o}"),
            (Some(b), None) => b.to_owned(),
            _ if ua.is_empty() => "Unknown device".to_owned(),
            _ => ua.to_owned(),
        };
        let clean: String = text
            .chars()
            .filter(|c| !super::text::is_unsafe(*c))
            .take(Self::MAX_CHARS)
            .collect();
        DeviceName(clean)
    }

    /// The client's value when non-empty, else the User-Agent's.
    pub fn given_or_derived(given: Option<DeviceName>, ua: Option<&str>) -> Self {
        match given {
            Some(d) if !d.0.is_empty() => d,
            _ => Self::from_user_agent(ua),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        assert!(DeviceName::parse("").is_ok());
        assert!(DeviceName::parse(&"x".repeat(64)).is_ok());
        assert_eq!(
            DeviceName::parse(&"x".repeat(65)),
            Err(DeviceNameError::TooLong)
        );
        assert_eq!(
            DeviceName::parse("a\tb"),
            Err(DeviceNameError::ControlCharacter)
        );
        assert_eq!(
            DeviceName::parse("Chrome on \u{202E}2CP"),
            Err(DeviceNameError::ControlCharacter)
        );
    }

    #[test]
    fn derives_from_user_agent() {
        let ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
        assert_eq!(
            DeviceName::from_user_agent(Some(ua)).as_str(),
            "Chrome on Linux"
        );
        assert_eq!(DeviceName::from_user_agent(None).as_str(), "Unknown device");
        assert_eq!(
            DeviceName::from_user_agent(Some("curl/8.0")).as_str(),
            "curl/8.0"
        );
        let long = "z".repeat(300);
        assert_eq!(DeviceName::from_user_agent(Some(&long)).as_str().len(), 64);
    }

    #[test]
    fn empty_given_falls_back_to_user_agent() {
        let given = Some(DeviceName::parse("").unwrap());
        assert_eq!(
            DeviceName::given_or_derived(given, Some("curl/8.0")).as_str(),
            "curl/8.0"
        );
    }
}
