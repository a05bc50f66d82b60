//! `Username`: an account name that has passed PROTOCOL.md's limits.
//!
//! Parse, don't validate: the only way to get one is `Username::parse`, so
//! every layer past the HTTP edge can trust its length and characters. Names
//! are compared byte for byte (no case folding, no normalisation).

use std::fmt;

use serde::{Deserialize, Serialize};

/// 1–64 Unicode scalar values, no control characters (NUL included).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

/// Why a user name was refused; the HTTP layer turns any of these into 400.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UsernameError {
    #[error("username must not be empty")]
    Empty,
    #[error("username must be at most 64 characters")]
    TooLong,
    #[error("username must not contain control or formatting characters")]
    ControlCharacter,
}

impl Username {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, UsernameError> {
        if raw.is_empty() {
            return Err(UsernameError::Empty);
        }
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(UsernameError::TooLong);
        }
        if raw.chars().any(super::text::is_unsafe) {
            return Err(UsernameError::ControlCharacter);
        }
        Ok(Username(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Username {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Username {
    type Error = UsernameError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Username::parse(&s)
    }
}

impl From<Username> for String {
    fn from(u: Username) -> String {
        u.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_and_unicode_names() {
        assert!(Username::parse("user1").is_ok());
        assert!(Username::parse("사용자").is_ok());
        assert!(Username::parse(&"é".repeat(64)).is_ok());
    }

    #[test]
    fn refuses_empty_long_and_control() {
        assert_eq!(Username::parse(""), Err(UsernameError::Empty));
        assert_eq!(
            Username::parse(&"a".repeat(65)),
            Err(UsernameError::TooLong)
        );
        assert_eq!(
            Username::parse("a\u{0}b"),
            Err(UsernameError::ControlCharacter)
        );
        assert_eq!(
            Username::parse("a\nb"),
            Err(UsernameError::ControlCharacter)
        );
    }

    #[test]
    fn no_case_folding() {
        assert_ne!(Username::parse("User1"), Username::parse("user1"));
    }
}
