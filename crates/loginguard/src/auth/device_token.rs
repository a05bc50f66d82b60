//! Signing and checking device tokens (OWASP "device cookies").
//!
//! A successful password sign-in gets a fresh token: a random device id and
//! HMAC-SHA256(key, account + id). `app::SignInService` checks the token a
//! sign-in presents; a valid one for that account moves the attempt from the
//! account's failure counter to the device's own. The key is
//! `--device-cookie-key`, or a random one per start (then tokens die with the
//! process and other instances do not honour them). Never signs anyone in.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretSlice};
use sha2::Sha256;

use super::AuthError;
use crate::domain::{DeviceId, DeviceToken, Username, DEVICE_ID_BYTES};

/// Keeps what a device token signs apart from any other use of the key.
const CONTEXT: &[u8] = b"loginguard/device-token/v1";

/// Issues and checks device tokens with one server key.
pub struct DeviceTokens {
    key: SecretSlice<u8>,
}

impl DeviceTokens {
    /// Tokens signed with `key` (any length; the setting asks for 32+ bytes).
    pub fn new(key: &[u8]) -> Self {
        DeviceTokens {
            key: key.to_vec().into(),
        }
    }

    /// Tokens signed with a fresh random key, valid until this process ends.
    pub fn random() -> Result<Self, AuthError> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(AuthError::Rng)?;
        Ok(Self::new(&key))
    }

    /// A new token for one device of `username`.
    pub fn issue(&self, username: &Username) -> Result<DeviceToken, AuthError> {
        let mut bytes = [0u8; DEVICE_ID_BYTES];
        getrandom::fill(&mut bytes).map_err(AuthError::Rng)?;
        let id = DeviceId::from_bytes(bytes);
        let mac = self.mac(username, &id).finalize().into_bytes();
        Ok(DeviceToken::new(&id, &mac.into()))
    }

    /// The device's id when `token` was signed with this key for `username`;
    /// `None` for a forged, foreign or other account's token.
    pub fn verify(&self, username: &Username, token: &DeviceToken) -> Option<DeviceId> {
        let (id, mac) = token.parts()?;
        // `verify_slice` compares in constant time.
        self.mac(username, &id).verify_slice(&mac).ok()?;
        Some(id)
    }

    fn mac(&self, username: &Username, id: &DeviceId) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.key.expose_secret())
            .expect("HMAC takes a key of any length");
        // Lengths first, so no (name, id) pair can be read as another.
        for part in [
            CONTEXT,
            username.as_str().as_bytes(),
            id.as_str().as_bytes(),
        ] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::DEVICE_MAC_BYTES;

    fn user(name: &str) -> Username {
        Username::parse(name).unwrap()
    }

    #[test]
    fn a_token_is_valid_for_its_account_and_key_only() {
        let tokens = DeviceTokens::new(b"k".repeat(32).as_slice());
        let t = tokens.issue(&user("alice")).unwrap();
        let id = tokens.verify(&user("alice"), &t).expect("valid");
        assert_eq!(Some(id), t.parts().map(|(id, _)| id));
        assert_eq!(tokens.verify(&user("bob"), &t), None, "other account");
        let other_key = DeviceTokens::new(b"x".repeat(32).as_slice());
        assert_eq!(other_key.verify(&user("alice"), &t), None, "other key");
        assert_ne!(
            tokens.issue(&user("alice")).unwrap(),
            t,
            "fresh id each time"
        );
    }

    #[test]
    fn a_tampered_token_is_refused() {
        let tokens = DeviceTokens::random().unwrap();
        let alice = user("alice");
        let (id, mac) = tokens.issue(&alice).unwrap().parts().unwrap();
        let mut flipped = mac;
        flipped[0] ^= 1;
        let forged = DeviceToken::new(&id, &flipped);
        assert_eq!(tokens.verify(&alice, &forged), None, "signature changed");
        let other_id = DeviceId::from_bytes([3; DEVICE_ID_BYTES]);
        let moved = DeviceToken::new(&other_id, &mac);
        assert_eq!(tokens.verify(&alice, &moved), None, "id changed");
        let blank = DeviceToken::new(&id, &[0; DEVICE_MAC_BYTES]);
        assert_eq!(tokens.verify(&alice, &blank), None);
    }
}
