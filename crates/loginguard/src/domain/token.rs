//! Bearer tokens and the identities they carry.
//!
//! A token is 64 random-looking bytes, base64url without padding: the
//! account's routing key (16 bytes), the session's id (16) and a secret (32
//! bytes from the OS RNG). Carrying the account key lets the Redis store find
//! the account's hash slot from the token alone, so validation stays one round
//! trip on Redis Cluster. Only the SHA-256 of the token is ever stored, and
//! `Token` has no `Display` and a `Debug` that shows only the session id, so
//! the secret cannot end up in a log.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::session::SessionId;
use super::username::Username;

const TOKEN_BYTES: usize = 64;

/// The store's name for an account: the first 128 bits of a SHA-256 of the
/// user name, hex. Fixed length and alphabet, so no user name can break a Redis
/// hash tag or collide with another account's keys.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountKey(String);

impl AccountKey {
    pub fn of(username: &Username) -> Self {
        AccountKey(hex::encode(Self::raw(username)))
    }

    fn raw(username: &Username) -> [u8; 16] {
        let digest = Sha256::new()
            .chain_update(b"loginguard/account/")
            .chain_update(username.as_str().as_bytes())
            .finalize();
        let mut out = [0u8; 16];
        out.copy_from_slice(&digest[..16]);
        out
    }

    /// An account key read back from the store: 32 lowercase hex digits.
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = raw.len() == 32
            && raw
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
        ok.then(|| AccountKey(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The hex SHA-256 of a token: what the store keeps and compares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TokenHash(String);

impl TokenHash {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A bearer token. Made by `Token::issue` from caller-supplied randomness (the
/// domain does no I/O) or read back with `Token::parse`.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    encoded: String,
    account: AccountKey,
    session: SessionId,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

/// A token that is not one of ours (wrong length or alphabet): 401 `unauthorized`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed token")]
pub struct MalformedToken;

impl Token {
    /// Builds the token of a new session. `session_bytes` and `secret` must come
    /// from a cryptographic RNG.
    pub fn issue(username: &Username, session_bytes: [u8; 16], secret: [u8; 32]) -> Self {
        let mut raw = [0u8; TOKEN_BYTES];
        raw[..16].copy_from_slice(&AccountKey::raw(username));
        raw[16..32].copy_from_slice(&session_bytes);
        raw[32..].copy_from_slice(&secret);
        let encoded = URL_SAFE_NO_PAD.encode(raw);
        Token {
            encoded,
            account: AccountKey::of(username),
            session: SessionId::from_bytes(session_bytes),
        }
    }

    /// `issue` when only the account's key is known (an eviction ticket's
    /// redemption): the same token `issue` makes for that account's name.
    pub fn issue_on(account: &AccountKey, session_bytes: [u8; 16], secret: [u8; 32]) -> Self {
        let mut raw = [0u8; TOKEN_BYTES];
        // An AccountKey is 32 hex digits by construction (`of`, `parse`).
        hex::decode_to_slice(account.as_str(), &mut raw[..16])
            .expect("an account key is 16 bytes in hex");
        raw[16..32].copy_from_slice(&session_bytes);
        raw[32..].copy_from_slice(&secret);
        Token {
            encoded: URL_SAFE_NO_PAD.encode(raw),
            account: account.clone(),
            session: SessionId::from_bytes(session_bytes),
        }
    }

    pub fn parse(raw: &str) -> Result<Self, MalformedToken> {
        // 64 bytes encode to exactly 86 characters; checking first bounds the decode.
        if raw.len() != 86 {
            return Err(MalformedToken);
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| MalformedToken)?;
        let bytes: [u8; TOKEN_BYTES] = bytes.try_into().map_err(|_| MalformedToken)?;
        let mut sid = [0u8; 16];
        sid.copy_from_slice(&bytes[16..32]);
        Ok(Token {
            encoded: raw.to_owned(),
            account: AccountKey(hex::encode(&bytes[..16])),
            session: SessionId::from_bytes(sid),
        })
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash(hex::encode(Sha256::digest(self.encoded.as_bytes())))
    }

    pub fn account(&self) -> &AccountKey {
        &self.account
    }

    pub fn session_id(&self) -> &SessionId {
        &self.session
    }

    /// The secret itself, for the one response that hands it to its owner.
    pub fn expose(&self) -> &str {
        &self.encoded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> Username {
        Username::parse("user1").unwrap()
    }

    #[test]
    fn round_trips_and_routes_to_its_account() {
        let t = Token::issue(&user(), [7; 16], [9; 32]);
        let back = Token::parse(t.expose()).unwrap();
        assert_eq!(back.account(), &AccountKey::of(&user()));
        assert_eq!(back.session_id(), t.session_id());
        assert_eq!(back.hash(), t.hash());
        assert_eq!(t.expose().len(), 86);
        let on = Token::issue_on(&AccountKey::of(&user()), [7; 16], [9; 32]);
        assert_eq!(
            on.expose(),
            t.expose(),
            "the account key alone makes the same token"
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let t = Token::issue(&user(), [7; 16], [9; 32]);
        let shown = format!("{t:?}");
        assert!(!shown.contains(t.expose()));
        assert!(shown.contains(t.session_id().as_str()));
    }

    #[test]
    fn different_secrets_hash_differently() {
        let a = Token::issue(&user(), [7; 16], [1; 32]);
        let b = Token::issue(&user(), [7; 16], [2; 32]);
        assert_ne!(a.hash(), b.hash());
    }

    #[test]
    fn refuses_malformed() {
        for bad in [
            "",
            "abc",
            &"!".repeat(86),
            &"A".repeat(87),
            &"A".repeat(10_000),
        ] {
            assert_eq!(Token::parse(bad), Err(MalformedToken), "{bad:?}");
        }
    }

    #[test]
    fn account_keys_differ_and_are_fixed_length() {
        let a = AccountKey::of(&user());
        let b = AccountKey::of(&Username::parse("user2").unwrap());
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 32);
        assert!(a.as_str().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(AccountKey::parse(a.as_str()), Some(a.clone()));
        for bad in [
            "",
            "xyz",
            &a.as_str().to_uppercase(),
            &format!("{}0", a.as_str()),
        ] {
            assert_eq!(AccountKey::parse(bad), None, "{bad:?}");
        }
    }
}
