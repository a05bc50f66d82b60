//! The session store: one trait, one atomic step per intent.
//!
//! Called by `app` (every use case), the socket loop and the revalidation
//! loop in `ws`. Each method is a single atomic step in the backend (a
//! lock held for the memory store, one Lua script for Redis), so there is
//! never a read-then-write race between instances. Every change emits its
//! `StoreEvent` in that same step and answers a re-run of the same request as
//! its first run did (`replies`). The store never imports `ws` or `http`.
//! Beside it, `FailureCounter` keeps the failed sign-in counts (in the same
//! Redis, so every instance shares them). Every change also appends its
//! audit entries in that same step (`audit`; on Redis Cluster right after
//! it, see `redis/audit.rs`), and `WebhookOutbox` hands the audit trail's
//! events to the webhook dispatcher (`outbox`).

mod audit;
mod error;
mod failures;
mod memory;
mod memory_outbox;
mod outbox;
pub mod redis;
mod replies;
mod snapshot;
mod timed;

pub use audit::{AuditLog, AuditPage, AuditQuery, AuditSettings, DEFAULT_MAX_AUDIT_ENTRIES};
pub use error::StoreError;
pub use failures::{FailureCounter, FailureKey, MemoryFailures};
pub use memory::MemoryStore;
pub use memory_outbox::{EventFeed, FeedPage, MemoryOutbox, MEMORY_OUTBOX_CAPACITY};
pub use outbox::{Backlog, Delivery, OutboxEvent, WebhookOutbox};
pub use redis::RedisStore;
pub use snapshot::{snapshot_order, Snapshot, SnapshotCache};
pub use timed::TimedStore;

use async_trait::async_trait;

use crate::domain::{
    AccountKey, Actor, AuditEntry, AuditId, DeviceName, FreshSession, Lookup, Millis, OnLimit,
    Policy, PolicyOverride, Reason, Session, SessionId, Token, TokenHash, Username,
};

/// A new session to admit under `policy`.
#[derive(Clone, Debug)]
pub struct SignInRequest {
    /// Complete record: `created_at == last_seen_at == now`.
    pub session: Session,
    /// The configured policy (users file > flags); the store lays the
    /// account's stored `PolicyOverride` over it in the same step.
    pub policy: Policy,
    pub now: Millis,
}

#[cfg(test)]
impl SignInRequest {
    /// `session` under "one per account, newest wins" at its creation time:
    /// the unit tests' usual sign-in.
    pub(crate) fn one_per_account(session: Session) -> Self {
        let now = session.created_at;
        SignInRequest {
            session,
            policy: Policy {
                max_sessions: 1,
                on_limit: OnLimit::KickOldest,
                class_limits: Default::default(),
                stale_after: None,
            },
            now,
        }
    }
}

/// What a sign-in did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignInOutcome {
    /// The session is live; `revoked` are the ones it pushed out
    /// (`duplicate_login`), `replaced` the one of the same device it took the
    /// place of (`replaced`).
    Created {
        revoked: Vec<Session>,
        replaced: Option<Box<Session>>,
        /// The `on_limit` the step applied (a stored override's, if any).
        on_limit: OnLimit,
    },
    /// `deny_new` or `ask` (`on_limit`, as applied) refused it; `active`
    /// hold the places. Nothing was written except the `login_blocked`
    /// event (and under `ask` the eviction ticket).
    Denied {
        active: Vec<Session>,
        on_limit: OnLimit,
    },
}

/// The redemption of an eviction ticket (`on_limit = ask`): sign `chosen`
/// out and admit the waiting sign-in under `fresh`.
#[derive(Clone, Debug)]
pub struct RedeemRequest {
    pub account: AccountKey,
    pub ticket: TokenHash,
    pub chosen: SessionId,
    pub fresh: FreshSession,
    pub now: Millis,
}

/// What a redemption did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RedeemOutcome {
    /// The waiting session is live (`session`); `revoked` are the ones it
    /// signed out: the chosen one, or none when room appeared meanwhile.
    Created {
        session: Box<Session>,
        revoked: Vec<Session>,
    },
    /// No such ticket on this account: unknown or used (or expired so long
    /// ago that it is forgotten).
    InvalidTicket,
    /// The ticket is past its 120 s (kept a little longer to say so).
    ExpiredTicket,
    /// `chosen` is not one of the sessions the ticket offered. The ticket
    /// stays usable.
    NotOffered,
    /// Signing `chosen` out would not make room (it ended and others took
    /// the places); `active` hold them. The ticket stays usable.
    Denied { active: Vec<Session> },
}

/// The contract every backend meets; `tests/api/store.rs` runs one conformance suite
/// against each implementation.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Prunes the account's expired sessions, applies the policy (the
    /// request's, under the account's stored override when it has one;
    /// `domain::decide`: same-device replace, then room), revokes the
    /// losers with `duplicate_login` or `replaced` (tombstoned), inserts the new session and
    /// emits `SignedIn` (or `LoginBlocked`), all as one step. Under `ask`,
    /// a refusal also keeps an eviction ticket under the new session's token
    /// hash (`domain::PendingSignIn`, 120 s), offering the sessions it names. Upholds
    /// invariant 1 under any concurrency, across instances. The same request
    /// (same session id) sent again within `replies::REPLAY_WINDOW` answers the first
    /// outcome and changes nothing; after `undo_sign_in` it answers
    /// `Unavailable` and changes nothing.
    async fn sign_in(&self, req: SignInRequest) -> Result<SignInOutcome, StoreError>;

    /// Redeems an eviction ticket as one step: checks it (unknown or used:
    /// `InvalidTicket`; past its life: `ExpiredTicket`; `chosen` not offered: `NotOffered`, the
    /// ticket kept), then, like `sign_in`, prunes, applies
    /// `domain::decide_choosing` under the limits the ticket was issued
    /// under, or the account's stored override's where it sets them (only
    /// `chosen` may go, and only when there is no room), signs `chosen` out (`duplicate_login`, by the waiting
    /// device), inserts the new session, uses the ticket up and emits
    /// `SignedIn`. Exactly one of any number of concurrent redemptions of a
    /// ticket wins. A re-run (same fresh session id) answers as the first
    /// run; `undo_sign_in` of the fresh id undoes it.
    async fn redeem_ticket(&self, req: RedeemRequest) -> Result<RedeemOutcome, StoreError>;

    /// The account's runtime policy override, if one is stored.
    async fn policy_override(
        &self,
        account: &AccountKey,
    ) -> Result<Option<PolicyOverride>, StoreError>;

    /// Stores (`Some`) or removes (`None`) the account's runtime policy
    /// override, whole. Every sign-in and redemption on any instance that
    /// starts after this returns uses it. Returns whether one was stored
    /// before.
    async fn set_policy_override(
        &self,
        account: &AccountKey,
        value: Option<&PolicyOverride>,
    ) -> Result<bool, StoreError>;

    /// Gives up a sign-in whose answer was lost: ends its session (`logout`)
    /// when it is live and makes any later run of that request do nothing.
    /// True when it ended a live session; a re-run answers as the first run.
    async fn undo_sign_in(
        &self,
        account: &AccountKey,
        id: &SessionId,
        now: Millis,
    ) -> Result<bool, StoreError>;

    /// Resolves a bearer token in one round trip: live (and touched when
    /// stale), ended (its tombstone, invariants 2 and 5) or unknown. A session
    /// found expired is ended with reason `expired` here and now.
    async fn validate(&self, token: &Token, now: Millis) -> Result<Lookup, StoreError>;

    /// Records a use of a live session (socket traffic); writes only when the
    /// stored `last_seen_at` is stale.
    async fn touch(
        &self,
        account: &AccountKey,
        id: &SessionId,
        now: Millis,
    ) -> Result<(), StoreError>;

    /// Ends one live session of `account`. Returns the ended record, `None`
    /// when it was not live. Emits `Revoked`. The same request (same id,
    /// reason and `now`) sent again answers as its first run.
    async fn revoke(
        &self,
        account: &AccountKey,
        id: &SessionId,
        reason: Reason,
        by: Option<Actor>,
        now: Millis,
    ) -> Result<Option<Session>, StoreError>;

    /// The account that session `id` belongs to, for callers that know only
    /// the id (`DELETE /api/v1/sessions/{id}`). `Some` for every live
    /// session; `None` means no live session has this id. An id's account
    /// never changes, so acting on the answer in a second step (`revoke`)
    /// is safe: that step finds nothing if the session ended meanwhile.
    async fn locate(&self, id: &SessionId) -> Result<Option<AccountKey>, StoreError>;

    /// Ends every live session of `username`; returns how many. Emits
    /// `Revoked`. The same request (same reason and `now`) sent again
    /// answers as its first run.
    async fn revoke_account(
        &self,
        username: &Username,
        reason: Reason,
        now: Millis,
    ) -> Result<usize, StoreError>;

    /// Signs everyone out: ends, with `reason` at `now`, every live session
    /// created at or before `now`, one account or a small batch of
    /// accounts at a time (each account's part with its `Revoked` event and
    /// audit entries, exactly as `revoke_account`; Redis outside Cluster
    /// runs 16 accounts per atomic step), so the store is never held for
    /// more than a short step. Sessions created after `now` survive, even on an
    /// account not reached yet. Returns how many sessions ended. An error
    /// part-way leaves the accounts already done signed out; calling again
    /// finishes the job (those already ended are not counted twice). The
    /// same request (same reason and `now`) answers each account's part as
    /// its first run did.
    async fn revoke_all(&self, reason: Reason, now: Millis) -> Result<usize, StoreError>;

    /// The account's live sessions, oldest first.
    async fn list(&self, account: &AccountKey, now: Millis) -> Result<Vec<Session>, StoreError>;

    /// Every live session of every account (admin view; callers cache it).
    async fn list_all(&self, now: Millis) -> Result<Vec<Session>, StoreError>;

    /// Resolves many sessions by id without a token, ending expired ones.
    /// Used to revalidate open sockets after a possible event loss and by the
    /// periodic sweep; answers in the order asked.
    async fn check(
        &self,
        sessions: &[(AccountKey, SessionId)],
        now: Millis,
    ) -> Result<Vec<Lookup>, StoreError>;

    /// Succeeds when the backend answers and is fit to keep sessions
    /// (readiness; Redis must not be able to evict them).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Ends expired sessions (emitting `expired` and its audit entry) that
    /// nothing else touches, and forgets stale tombstones so an in-process
    /// store stays bounded. Called by the periodic sweep. The memory store
    /// ends every expired session per call; Redis ends those of the next
    /// slice of its accounts index, so a few calls make a pass (docs/redis.md).
    /// Returns how many sessions this call ended.
    async fn maintain(&self, now: Millis) -> Result<usize, StoreError>;

    /// Appends a `sign_in_failed` entry to the audit trail: a wrong password
    /// changes nothing in the store, so no other step records it. Every
    /// other entry is appended by the change it records, in the same step.
    async fn record_failed_sign_in(
        &self,
        username: &Username,
        device: &DeviceName,
        ip: &str,
        now: Millis,
    ) -> Result<(), StoreError>;

    /// One page of the audit trail, newest first. A page filtered by user
    /// may hold fewer than `limit` entries while `next` says more may follow
    /// (a backend may bound how far one page looks).
    async fn audit(&self, query: &AuditQuery) -> Result<AuditPage, StoreError>;

    /// At most `limit` entries appended after `after` (from the oldest kept
    /// when `None`), oldest first: for consumers that go through the trail
    /// in order and remember the last id they handled (webhooks).
    async fn audit_after(
        &self,
        after: Option<AuditId>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError>;
}
