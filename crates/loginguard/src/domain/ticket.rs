//! Eviction tickets (`on_limit = ask`): the bearer proof that a refused
//! sign-in may come back and choose a session to sign out, and the record
//! the store keeps for it.
//!
//! The ticket is the token the refused sign-in would have had: it names the
//! account (so it reaches the account's keys, one Cluster slot, and binds to
//! that account), and the store keeps only its hash, beside the waiting
//! sign-in (the refused session's record: device, class, device id, IP)
//! and the ids it offered. The refused session never exists, so the ticket
//! opens nothing else; a redemption creates a session under a fresh id and
//! token. Single use and 120 s of life are the store's to enforce.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::class_limits::ClassLimits;
use super::clock::Millis;
use super::policy::{OnLimit, Policy};
use super::session::{Session, SessionId};
use super::token::{AccountKey, Token, TokenHash};

/// How long a ticket can be redeemed (PROTOCOL.md: 120 s).
pub const TICKET_LIFETIME: Duration = Duration::from_secs(120);

/// The ticket as the client holds it; `Debug` never shows it.
#[derive(Debug)]
pub struct EvictionTicket(Token);

/// Not one of our tickets (400 `invalid_ticket`, like an unknown one).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed eviction ticket")]
pub struct MalformedTicket;

impl EvictionTicket {
    /// The ticket of a sign-in refused with `token` (never given out).
    pub fn of(token: Token) -> Self {
        EvictionTicket(token)
    }

    pub fn parse(raw: &str) -> Result<Self, MalformedTicket> {
        Token::parse(raw)
            .map(EvictionTicket)
            .map_err(|_| MalformedTicket)
    }

    pub fn account(&self) -> &AccountKey {
        self.0.account()
    }

    /// What the store keeps it under.
    pub fn hash(&self) -> TokenHash {
        self.0.hash()
    }

    /// The text to give the client, once.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// As the token it is (to check that it opens no session).
    pub fn token(&self) -> &Token {
        &self.0
    }
}

/// What the store keeps for a ticket. The Redis scripts store the same JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingSignIn {
    /// The refused session's record; a redemption takes its device, class,
    /// device id, IP, User-Agent and provenance.
    #[serde(rename = "p")]
    pub waiting: Session,
    /// The sessions offered for eviction.
    #[serde(rename = "o")]
    pub offered: Vec<SessionId>,
    /// The end of its life.
    #[serde(rename = "e")]
    pub expires_at: Millis,
    /// The account's limits when it was refused; the redemption is held to
    /// them (a ticket lives two minutes).
    #[serde(rename = "m")]
    pub max_sessions: u32,
    #[serde(rename = "cl")]
    pub class_limits: ClassLimits,
}

/// The fresh identity of the session a redemption creates: everything the
/// ticket does not already hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FreshSession {
    pub session_id: SessionId,
    pub token_hash: TokenHash,
    pub expires_at: Millis,
}

impl PendingSignIn {
    /// Kept for `refused` under `policy` at `now`, offering `offered`.
    pub fn new(refused: Session, offered: &[Session], policy: &Policy, now: Millis) -> Self {
        PendingSignIn {
            waiting: refused,
            offered: offered.iter().map(|s| s.session_id.clone()).collect(),
            expires_at: now.plus(TICKET_LIFETIME),
            max_sessions: policy.max_sessions,
            class_limits: policy.class_limits.clone(),
        }
    }

    /// The policy its redemption is decided under.
    pub fn policy(&self) -> Policy {
        Policy {
            max_sessions: self.max_sessions,
            on_limit: OnLimit::Ask,
            class_limits: self.class_limits.clone(),
            stale_after: None,
        }
    }

    /// The waiting session made live under a fresh identity at `now`.
    pub fn admit(&self, fresh: FreshSession, now: Millis) -> Session {
        Session {
            session_id: fresh.session_id,
            token_hash: fresh.token_hash,
            created_at: now,
            last_seen_at: now,
            expires_at: fresh.expires_at,
            ..self.waiting.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Username;

    #[test]
    fn a_ticket_is_a_refused_token_and_keeps_its_account() {
        let user = Username::parse("user1").unwrap();
        let token = Token::issue(&user, [1; 16], [2; 32]);
        let hash = token.hash();
        let ticket = EvictionTicket::of(token);
        let parsed = EvictionTicket::parse(ticket.expose()).unwrap();
        assert_eq!(parsed.account(), &AccountKey::of(&user));
        assert_eq!(parsed.hash(), hash);
        assert!(EvictionTicket::parse("not a ticket").is_err());
    }

    #[test]
    fn a_redemption_keeps_the_waiting_device_under_a_fresh_identity() {
        let (waiting, _) = Session::sample(1, Millis(5), Duration::from_secs(60));
        let (other, _) = Session::sample(2, Millis(1), Duration::from_secs(60));
        let policy = Policy {
            max_sessions: 1,
            on_limit: OnLimit::Ask,
            class_limits: ClassLimits::default(),
            stale_after: None,
        };
        let pending = PendingSignIn::new(
            waiting.clone(),
            std::slice::from_ref(&other),
            &policy,
            Millis(5),
        );
        assert_eq!(pending.policy(), policy);
        assert_eq!(pending.expires_at, Millis(120_005));
        assert_eq!(pending.offered, vec![other.session_id.clone()]);
        let fresh = FreshSession {
            session_id: other.session_id.clone(),
            token_hash: other.token_hash.clone(),
            expires_at: Millis(99),
        };
        let admitted = pending.admit(fresh, Millis(50));
        assert_eq!(admitted.device, waiting.device);
        assert_eq!(admitted.session_id, other.session_id);
        assert_eq!(
            (admitted.created_at, admitted.last_seen_at),
            (Millis(50), Millis(50))
        );
    }
}
