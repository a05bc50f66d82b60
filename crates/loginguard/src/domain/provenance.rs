//! How a session came to be, and whether the users file still backs it.
//!
//! A session records its `Origin` and, for a password sign-in, a short
//! fingerprint of the account's password hash at that moment. After every
//! (re)load of the users file, `app`'s reconcile use case asks
//! `Session::outdated_by` which sessions must end and why. Nothing here reads
//! the file or the store.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::reason::Reason;
use super::session::Session;

/// What created a session. Records written before the field existed were
/// password sign-ins, hence the default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// `POST /api/auth/login` with an account of the users file.
    #[default]
    Password,
    /// `POST /api/v1/sessions`: a trusted backend vouched for the subject.
    Backend,
}

impl Origin {
    /// Whether the users file answers for sessions of this origin; a trusted
    /// backend's sessions belong to the backend, whose subjects need not be
    /// in the file at all.
    pub fn backed_by_users_file(self) -> bool {
        match self {
            Origin::Password => true,
            Origin::Backend => false,
        }
    }
}

/// The first 8 bytes of SHA-256 of a stored PHC string, in hex. Enough to see
/// that a password changed, while the session record holds nothing a guess
/// could be checked against without the hash itself.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasswordFingerprint(String);

impl PasswordFingerprint {
    pub fn of(password_hash: &str) -> Self {
        PasswordFingerprint(hex::encode(&Sha256::digest(password_hash.as_bytes())[..8]))
    }
}

impl Session {
    /// Why the users file no longer backs this session, or `None` while it
    /// does. `account` is the account's current password fingerprint, `None`
    /// when the account left the file. A session without a fingerprint (stored
    /// before fingerprints existed) is not taken as signed in under an older
    /// password: upgrading must not sign everyone out; it still ends when its
    /// account is removed, and with its absolute lifetime at the latest.
    pub fn outdated_by(&self, account: Option<&PasswordFingerprint>) -> Option<Reason> {
        if !self.origin.backed_by_users_file() {
            return None;
        }
        let Some(current) = account else {
            return Some(Reason::AccountRemoved);
        };
        match &self.password {
            Some(at_sign_in) if at_sign_in != current => Some(Reason::PasswordChanged),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::clock::Millis;
    use super::*;

    fn signed_in_with(hash: Option<&str>) -> Session {
        let (mut s, _) = Session::sample(1, Millis(0), Duration::from_secs(60));
        s.password = hash.map(PasswordFingerprint::of);
        s
    }

    #[test]
    fn a_removed_account_ends_its_password_sessions() {
        for hash in [Some("old"), None] {
            assert_eq!(
                signed_in_with(hash).outdated_by(None),
                Some(Reason::AccountRemoved)
            );
        }
    }

    #[test]
    fn a_changed_password_ends_sessions_signed_in_under_the_old_one() {
        let now = PasswordFingerprint::of("new");
        assert_eq!(
            signed_in_with(Some("old")).outdated_by(Some(&now)),
            Some(Reason::PasswordChanged)
        );
        assert_eq!(signed_in_with(Some("new")).outdated_by(Some(&now)), None);
    }

    #[test]
    fn the_users_file_leaves_backend_sessions_alone() {
        let mut s = signed_in_with(None);
        s.origin = Origin::Backend;
        assert_eq!(s.outdated_by(None), None);
        assert_eq!(s.outdated_by(Some(&PasswordFingerprint::of("x"))), None);
    }

    #[test]
    fn an_unknown_fingerprint_is_not_a_change() {
        let now = PasswordFingerprint::of("new");
        assert_eq!(signed_in_with(None).outdated_by(Some(&now)), None);
    }

    #[test]
    fn the_fingerprint_is_short_and_not_the_hash() {
        let hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g";
        let json = serde_json::to_string(&PasswordFingerprint::of(hash)).unwrap();
        assert_eq!(json.len(), 2 + 16, "{json}");
        assert!(!json.contains("argon2"));
        assert_ne!(PasswordFingerprint::of(hash), PasswordFingerprint::of("x"));
    }
}
