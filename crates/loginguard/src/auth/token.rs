//! Issuing new tokens from the operating system's RNG.
//!
//! The only place that asks the OS for session randomness: 128 bits for the
//! public session id and 256 bits of secret. The domain's `Token::issue` lays
//! the bytes out; this file only fetches them.

use super::AuthError;
use crate::domain::{AccountKey, Token, Username};

/// A fresh token (and with it a fresh session id) for `username`.
pub fn issue_token(username: &Username) -> Result<Token, AuthError> {
    issue_token_on(&AccountKey::of(username))
}

/// `issue_token` when only the account's key is known (an eviction
/// ticket's redemption).
pub fn issue_token_on(account: &AccountKey) -> Result<Token, AuthError> {
    let mut sid = [0u8; 16];
    let mut secret = [0u8; 32];
    getrandom::fill(&mut sid).map_err(AuthError::Rng)?;
    getrandom::fill(&mut secret).map_err(AuthError::Rng)?;
    Ok(Token::issue_on(account, sid, secret))
}
