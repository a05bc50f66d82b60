//! `MemoryStore`: the embedded, in-process session store (the default).
//!
//! Choose it for a single instance with no setup; sessions vanish with the
//! process. Accounts live in shards of `AccountKey -> Account` behind short
//! std-style locks (never held across `.await`), and each trait method is one
//! locked call into the pure `domain::Account`, next to the account's recent
//! answers for re-runs (`replies`) and its runtime policy override, which a
//! sign-in reads under the same lock. Each change's audit entries go to one
//! capped log while the account's lock is still held, so no reader sees a
//! change without its entry; events go to the `LocalBus` after the lock is
//! released. Finding a session by its id alone walks the accounts,
//! one shard lock at a time: it serves an administrative call, and an index
//! would cost every sign-in.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;

use super::audit::{AuditLog, AuditPage, AuditQuery, AuditSettings};
use super::memory_outbox::{EventFeed, FeedPage};
use super::replies::{Replies, RequestId};
use super::{RedeemOutcome, RedeemRequest, SessionStore, SignInOutcome, SignInRequest, StoreError};
use crate::domain::{
    effective, Account, AccountKey, Actor, AuditEntry, AuditId, AuditRecord, DeviceName, Lifetimes,
    Lookup, Millis, OnLimit, PendingSignIn, Policy, PolicyOverride, Reason, Session, SessionId,
    SignInDecision, Token, Username,
};
use crate::events::{LocalBus, StoreEvent};

const SHARDS: usize = 64;

/// How long a ticket is kept past its end, so a late redemption is told
/// (and counted) as expired rather than unknown. `sign_in.lua` keeps its
/// ticket keys as long.
const TICKET_KEPT_AFTER_EXPIRY: Duration = Duration::from_secs(60);

/// Accounts signed out between two yields to the runtime in `revoke_all`,
/// so signing everyone out does not hold a worker thread for long.
const ACCOUNTS_PER_YIELD: usize = 256;

/// In-process store; cheap to clone.
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

struct Inner {
    shards: Vec<Mutex<HashMap<AccountKey, Held>>>,
    hasher: RandomState,
    lifetimes: Lifetimes,
    bus: Arc<LocalBus>,
    /// Taken only inside an account's lock (never the other way round).
    audit: Mutex<AuditLog>,
    /// Woken after entries are appended (the webhook outbox waits on it).
    appended: tokio::sync::Notify,
    instance: String,
}

/// What one locked step changed: its event and its audit entries.
#[derive(Default)]
struct Change {
    event: Option<StoreEvent>,
    audit: Vec<AuditRecord>,
}

impl Change {
    /// `ended` sessions, ended for `reason` by `by` at `at`.
    fn ended(
        ended: &[Session],
        reason: Reason,
        by: Option<Actor>,
        at: Millis,
        instance: &str,
    ) -> Change {
        Change {
            audit: ended
                .iter()
                .map(|s| AuditRecord::ended(s, reason, by.clone(), at, instance))
                .collect(),
            event: revoked_event(ended, reason, by, at),
        }
    }
}

/// What a sign-in request came to, as its re-runs are answered.
#[derive(Clone)]
enum SignInAnswer {
    Outcome(SignInOutcome),
    /// A ticket's redemption (it creates a session like a sign-in).
    Redeemed(RedeemOutcome),
    /// `undo_sign_in` gave it up; `ended` tells whether that ended its session.
    Undone {
        ended: bool,
    },
}

/// One account, the answers its recent requests were given, its
/// eviction tickets (by token hash) and its runtime policy override.
#[derive(Default)]
struct Held {
    account: Account,
    sign_ins: Replies<SignInAnswer>,
    revokes: Replies<Vec<Session>>,
    tickets: HashMap<String, PendingSignIn>,
    policy_override: Option<PolicyOverride>,
}

impl Held {
    fn is_empty(&self) -> bool {
        self.account.is_empty()
            && self.sign_ins.is_empty()
            && self.revokes.is_empty()
            && self.tickets.is_empty()
            && self.policy_override.is_none()
    }

    /// Forgets tombstones, tickets and answers nobody can use any more.
    fn forget_stale(&mut self, now: Millis) {
        self.account.forget_stale_tombstones(now);
        self.sign_ins.forget_stale(now);
        self.revokes.forget_stale(now);
        self.tickets
            .retain(|_, t| t.expires_at.plus(TICKET_KEPT_AFTER_EXPIRY) > now);
    }

    /// Redeems a ticket (see `SessionStore::redeem_ticket`).
    fn redeem(
        &mut self,
        req: RedeemRequest,
        idle: Duration,
        instance: &str,
    ) -> (RedeemOutcome, Change) {
        let key = req.ticket.as_str();
        let Some(pending) = self.tickets.get(key) else {
            return (RedeemOutcome::InvalidTicket, Change::default());
        };
        if pending.expires_at <= req.now {
            return (RedeemOutcome::ExpiredTicket, Change::default());
        }
        if !pending.offered.contains(&req.chosen) {
            return (RedeemOutcome::NotOffered, Change::default());
        }
        let new = pending.admit(req.fresh, req.now);
        let policy = effective(pending.policy(), self.policy_override.as_ref());
        let (outcome, change) = admit(
            &mut self.account,
            new.clone(),
            policy,
            req.now,
            idle,
            Some(&req.chosen),
            instance,
        );
        match outcome {
            SignInOutcome::Created {
                mut revoked,
                replaced,
                ..
            } => {
                self.tickets.remove(key);
                revoked.extend(replaced.map(|b| *b));
                let created = RedeemOutcome::Created {
                    session: Box::new(new),
                    revoked,
                };
                (created, change)
            }
            // Nothing changed: neither `login_blocked` nor `denied` again.
            SignInOutcome::Denied { active, .. } => {
                (RedeemOutcome::Denied { active }, Change::default())
            }
        }
    }
}

impl MemoryStore {
    pub fn new(lifetimes: Lifetimes, bus: Arc<LocalBus>) -> Self {
        Self::with_audit(lifetimes, bus, AuditSettings::default())
    }

    pub fn with_audit(lifetimes: Lifetimes, bus: Arc<LocalBus>, audit: AuditSettings) -> Self {
        MemoryStore {
            inner: Arc::new(Inner {
                shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
                hasher: RandomState::new(),
                lifetimes,
                bus,
                audit: Mutex::new(AuditLog::new(audit.max_entries)),
                appended: tokio::sync::Notify::new(),
                instance: audit.instance,
            }),
        }
    }

    /// Runs `f` on the account (created when missing) after pruning it, as one
    /// locked step that changes nothing but the pruning.
    fn with_account<R>(
        &self,
        key: &AccountKey,
        now: Millis,
        f: impl FnOnce(&mut Account) -> R,
    ) -> R {
        self.step(key, now, |held| (f(&mut held.account), Change::default()))
            .0
    }

    /// `with_account` for a revocation: a re-run of `request` gets the first
    /// run's answer and changes nothing.
    fn revoke_once(
        &self,
        key: &AccountKey,
        now: Millis,
        request: RequestId,
        f: impl FnOnce(&mut Account) -> (Vec<Session>, Change),
    ) -> Vec<Session> {
        self.step(key, now, |held| {
            if let Some(earlier) = held.revokes.get(&request, now) {
                return (earlier, Change::default());
            }
            let (ended, change) = f(&mut held.account);
            held.revokes.remember(request, ended.clone(), now);
            (ended, change)
        })
        .0
    }

    /// Every account currently held (a copy; the shards are not kept locked).
    fn account_keys(&self) -> Vec<AccountKey> {
        self.inner
            .shards
            .iter()
            .flat_map(|s| s.lock().keys().cloned().collect::<Vec<_>>())
            .collect()
    }

    /// One locked step on an account and its answers, also telling how many
    /// sessions the pruning ended. The audit entries of the pruning and of
    /// `f` are appended before the account's lock is released.
    fn step<R>(
        &self,
        key: &AccountKey,
        now: Millis,
        f: impl FnOnce(&mut Held) -> (R, Change),
    ) -> (R, usize) {
        let shard = self.shard(key);
        let instance = &self.inner.instance;
        let (expiry, result, change, expired) = {
            let mut map = shard.lock();
            let held = map.entry(key.clone()).or_default();
            let expired = held.account.prune(now, self.inner.lifetimes.idle);
            let expiry = Change::ended(&expired, Reason::Expired, None, now, instance);
            let (result, change) = f(held);
            if held.is_empty() {
                map.remove(key);
            }
            if !expiry.audit.is_empty() || !change.audit.is_empty() {
                let mut log = self.inner.audit.lock();
                for record in expiry.audit.iter().chain(&change.audit) {
                    log.append(record.clone(), now);
                }
            }
            (expiry, result, change, expired.len())
        };
        if !expiry.audit.is_empty() || !change.audit.is_empty() {
            self.inner.appended.notify_waiters();
        }
        for e in [expiry.event, change.event].into_iter().flatten() {
            self.inner.bus.publish(e);
        }
        (result, expired)
    }

    fn shard(&self, key: &AccountKey) -> &Mutex<HashMap<AccountKey, Held>> {
        &self.inner.shards[self.inner.hasher.hash_one(key) as usize % SHARDS]
    }

    fn instance(&self) -> &str {
        &self.inner.instance
    }
}

impl EventFeed for MemoryStore {
    fn entries_after(&self, after: Option<AuditId>, max: usize) -> FeedPage {
        let log = self.inner.audit.lock();
        FeedPage {
            entries: log.after(after, max),
            after: log.count_after(after),
        }
    }

    fn appended(&self) -> tokio::sync::futures::Notified<'_> {
        self.inner.appended.notified()
    }
}

/// Applies the policy to `new` on `account` (only `chosen` may go, when
/// given): the outcome, its event and its audit entries (the sessions pushed
/// out, the replaced one, then the sign-in, as the scripts write them).
fn admit(
    account: &mut Account,
    new: Session,
    policy: Policy,
    now: Millis,
    idle: Duration,
    chosen: Option<&SessionId>,
    instance: &str,
) -> (SignInOutcome, Change) {
    let by = Actor::of(&new, now);
    let username = new.username.clone();
    let id = new.session_id.clone();
    let created = AuditRecord::signed_in(&new, now, instance);
    let denied = AuditRecord::denied(&new, now, instance);
    let on_limit = policy.on_limit;
    match account.sign_in_choosing(new, policy, now, idle, chosen) {
        SignInDecision::Admitted { evicted, replaced } => {
            let ended = |s: &Session, reason| {
                AuditRecord::ended(s, reason, Some(by.clone()), now, instance)
            };
            let mut audit: Vec<AuditRecord> = evicted
                .iter()
                .map(|s| ended(s, Reason::DuplicateLogin))
                .chain(replaced.iter().map(|s| ended(s, Reason::Replaced)))
                .collect();
            audit.push(created);
            let event = StoreEvent::SignedIn {
                username,
                id,
                revoked: evicted.iter().map(|s| s.session_id.clone()).collect(),
                replaced: replaced.as_ref().map(|s| s.session_id.clone()),
                by,
            };
            let outcome = SignInOutcome::Created {
                revoked: evicted,
                replaced,
                on_limit,
            };
            let change = Change {
                event: Some(event),
                audit,
            };
            (outcome, change)
        }
        SignInDecision::Denied { live } => (
            SignInOutcome::Denied {
                active: live,
                on_limit,
            },
            Change {
                event: Some(StoreEvent::LoginBlocked { username, by }),
                audit: vec![denied],
            },
        ),
    }
}

/// The `Revoked` event for `ended`, or `None` when nothing ended.
fn revoked_event(
    ended: &[Session],
    reason: Reason,
    by: Option<Actor>,
    at: Millis,
) -> Option<StoreEvent> {
    let first = ended.first()?;
    Some(StoreEvent::Revoked {
        username: first.username.clone(),
        ids: ended.iter().map(|s| s.session_id.clone()).collect(),
        reason,
        by,
        at,
    })
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn sign_in(&self, req: SignInRequest) -> Result<SignInOutcome, StoreError> {
        let key = AccountKey::of(&req.session.username);
        let idle = self.inner.lifetimes.idle;
        let request = RequestId::sign_in(&req.session.session_id);
        let new = req.session;
        let instance = self.instance();
        let answer = self.step(&key, req.now, |held| {
            if let Some(earlier) = held.sign_ins.get(&request, req.now) {
                return (earlier, Change::default());
            }
            let policy = effective(req.policy, held.policy_override.as_ref());
            let ask = (policy.on_limit == OnLimit::Ask).then(|| (new.clone(), policy.clone()));
            let (outcome, change) = admit(
                &mut held.account,
                new,
                policy,
                req.now,
                idle,
                None,
                instance,
            );
            if let (Some((refused, policy)), SignInOutcome::Denied { active, .. }) = (ask, &outcome)
            {
                let pending = PendingSignIn::new(refused, active, &policy, req.now);
                held.tickets
                    .insert(pending.waiting.token_hash.as_str().to_owned(), pending);
            }
            let answer = SignInAnswer::Outcome(outcome);
            held.sign_ins.remember(request, answer.clone(), req.now);
            (answer, change)
        });
        match answer.0 {
            SignInAnswer::Outcome(outcome) => Ok(outcome),
            SignInAnswer::Redeemed(_) | SignInAnswer::Undone { .. } => {
                Err(StoreError::sign_in_undone())
            }
        }
    }

    async fn policy_override(
        &self,
        account: &AccountKey,
    ) -> Result<Option<PolicyOverride>, StoreError> {
        let map = self.shard(account).lock();
        Ok(map.get(account).and_then(|h| h.policy_override.clone()))
    }

    async fn set_policy_override(
        &self,
        account: &AccountKey,
        value: Option<&PolicyOverride>,
    ) -> Result<bool, StoreError> {
        let mut map = self.shard(account).lock();
        let held = map.entry(account.clone()).or_default();
        let before = std::mem::replace(&mut held.policy_override, value.cloned());
        if held.is_empty() {
            map.remove(account);
        }
        Ok(before.is_some())
    }

    async fn redeem_ticket(&self, req: RedeemRequest) -> Result<RedeemOutcome, StoreError> {
        let idle = self.inner.lifetimes.idle;
        let request = RequestId::sign_in(&req.fresh.session_id);
        let (now, account) = (req.now, req.account.clone());
        let instance = self.instance();
        let answer = self.step(&account, now, |held| {
            if let Some(earlier) = held.sign_ins.get(&request, now) {
                return (earlier, Change::default());
            }
            let (outcome, change) = held.redeem(req, idle, instance);
            let answer = SignInAnswer::Redeemed(outcome);
            held.sign_ins.remember(request, answer.clone(), now);
            (answer, change)
        });
        match answer.0 {
            SignInAnswer::Redeemed(outcome) => Ok(outcome),
            SignInAnswer::Outcome(_) | SignInAnswer::Undone { .. } => {
                Err(StoreError::sign_in_undone())
            }
        }
    }

    async fn undo_sign_in(
        &self,
        account: &AccountKey,
        id: &SessionId,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let idle = self.inner.lifetimes.idle;
        let request = RequestId::sign_in(id);
        let instance = self.instance();
        let (ended, _) = self.step(account, now, |held| {
            if let Some(SignInAnswer::Undone { ended }) = held.sign_ins.get(&request, now) {
                return (ended, Change::default());
            }
            let ended: Vec<Session> = held
                .account
                .end(id, Reason::Logout, None, now, idle)
                .into_iter()
                .collect();
            let change = Change::ended(&ended, Reason::Logout, None, now, instance);
            let ended = !ended.is_empty();
            held.sign_ins
                .remember(request, SignInAnswer::Undone { ended }, now);
            (ended, change)
        });
        Ok(ended)
    }

    async fn validate(&self, token: &Token, now: Millis) -> Result<Lookup, StoreError> {
        let hash = token.hash();
        let life = self.inner.lifetimes;
        Ok(self.with_account(token.account(), now, |a| {
            a.lookup(token.session_id(), Some(&hash), now, life, true)
        }))
    }

    async fn touch(
        &self,
        account: &AccountKey,
        id: &SessionId,
        now: Millis,
    ) -> Result<(), StoreError> {
        let after = self.inner.lifetimes.touch_after;
        self.with_account(account, now, |a| a.touch(id, now, after));
        Ok(())
    }

    async fn revoke(
        &self,
        account: &AccountKey,
        id: &SessionId,
        reason: Reason,
        by: Option<Actor>,
        now: Millis,
    ) -> Result<Option<Session>, StoreError> {
        let idle = self.inner.lifetimes.idle;
        let request = RequestId::revoke(Some(id), reason, by.as_ref(), now);
        let instance = self.instance();
        let ended = self.revoke_once(account, now, request, |a| {
            let ended: Vec<Session> = a
                .end(id, reason, by.clone(), now, idle)
                .into_iter()
                .collect();
            let change = Change::ended(&ended, reason, by, now, instance);
            (ended, change)
        });
        Ok(ended.into_iter().next())
    }

    async fn locate(&self, id: &SessionId) -> Result<Option<AccountKey>, StoreError> {
        Ok(self.inner.shards.iter().find_map(|shard| {
            let map = shard.lock();
            map.iter()
                .find(|(_, held)| held.account.holds(id))
                .map(|(key, _)| key.clone())
        }))
    }

    async fn revoke_account(
        &self,
        username: &Username,
        reason: Reason,
        now: Millis,
    ) -> Result<usize, StoreError> {
        let idle = self.inner.lifetimes.idle;
        let request = RequestId::revoke(None, reason, None, now);
        let instance = self.instance();
        let ended = self.revoke_once(&AccountKey::of(username), now, request, |a| {
            let ended = a.end_all(reason, now, idle);
            let change = Change::ended(&ended, reason, None, now, instance);
            (ended, change)
        });
        Ok(ended.len())
    }

    /// One account's lock at a time, from a copy of the account list taken
    /// after `now` (so it holds every account with a session created by
    /// then), yielding to the runtime between slices of accounts.
    async fn revoke_all(&self, reason: Reason, now: Millis) -> Result<usize, StoreError> {
        let idle = self.inner.lifetimes.idle;
        let request = RequestId::revoke_all(reason, now);
        let instance = self.instance();
        let mut ended = 0;
        for slice in self.account_keys().chunks(ACCOUNTS_PER_YIELD) {
            for key in slice {
                ended += self
                    .revoke_once(key, now, request.clone(), |a| {
                        let ended = a.end_created_by(now, reason, now, idle);
                        let change = Change::ended(&ended, reason, None, now, instance);
                        (ended, change)
                    })
                    .len();
            }
            tokio::task::yield_now().await;
        }
        Ok(ended)
    }

    async fn list(&self, account: &AccountKey, now: Millis) -> Result<Vec<Session>, StoreError> {
        Ok(self.with_account(account, now, |a| a.live()))
    }

    async fn list_all(&self, now: Millis) -> Result<Vec<Session>, StoreError> {
        let keys = self.account_keys();
        let mut all = Vec::new();
        for key in keys {
            all.extend(self.with_account(&key, now, |a| a.live()));
        }
        Ok(all)
    }

    async fn check(
        &self,
        sessions: &[(AccountKey, SessionId)],
        now: Millis,
    ) -> Result<Vec<Lookup>, StoreError> {
        let life = self.inner.lifetimes;
        Ok(sessions
            .iter()
            .map(|(key, id)| self.with_account(key, now, |a| a.lookup(id, None, now, life, false)))
            .collect())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn maintain(&self, now: Millis) -> Result<usize, StoreError> {
        let keys = self.account_keys();
        Ok(keys
            .iter()
            .map(|key| {
                self.step(key, now, |held| (held.forget_stale(now), Change::default()))
                    .1
            })
            .sum())
    }

    async fn record_failed_sign_in(
        &self,
        username: &Username,
        device: &DeviceName,
        ip: &str,
        now: Millis,
    ) -> Result<(), StoreError> {
        let record = AuditRecord::sign_in_failed(username, device, ip, now, self.instance());
        self.inner.audit.lock().append(record, now);
        Ok(())
    }

    async fn audit(&self, query: &AuditQuery) -> Result<AuditPage, StoreError> {
        Ok(self.inner.audit.lock().page(query))
    }

    async fn audit_after(
        &self,
        after: Option<AuditId>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(self.inner.audit.lock().after(after, limit))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const LIFE: Lifetimes = Lifetimes {
        idle: Duration::from_secs(60),
        absolute: Duration::from_secs(600),
        touch_after: Duration::from_secs(15),
    };

    #[tokio::test]
    async fn maintain_forgets_expired_accounts_entirely() {
        let store = MemoryStore::new(LIFE, LocalBus::new());
        let (session, _) = Session::sample(1, Millis(0), LIFE.absolute);
        store
            .sign_in(SignInRequest::one_per_account(session))
            .await
            .unwrap();
        assert_eq!(store.maintain(Millis(59_999)).await.unwrap(), 0);
        assert_eq!(
            store.maintain(Millis(60_000)).await.unwrap(),
            1,
            "idle expiry"
        );
        assert_eq!(store.account_keys().len(), 1, "the tombstone is still kept");
        assert_eq!(store.maintain(Millis(600_000)).await.unwrap(), 0);
        assert!(
            store.account_keys().is_empty(),
            "nothing is left once the token would have expired"
        );
    }
}
