//! `MemoryStore`: the embedded, in-process session store (the default).
//!
//! Choose it for a single instance with no setup; sessions vanish with the
//! process. Accounts live in shards of `AccountKey -> Account` behind short
//! std-style locks (never held across `.await`), and each trait method is one
//! locked call into the pure `domain::Account`. Events go to the `LocalBus`
//! after the lock is released. Finding a session by its id alone walks the
//! accounts, one shard lock at a time: it serves an administrative call, and
//! an index would cost every sign-in.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::Mutex;

use super::{SessionStore, SignInOutcome, SignInRequest, StoreError};
use crate::domain::{
    Account, AccountKey, Actor, Lifetimes, Lookup, Millis, Reason, Session, SessionId,
    SignInDecision, Token, Username,
};
use crate::events::{LocalBus, StoreEvent};

const SHARDS: usize = 64;

/// In-process store; cheap to clone.
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

struct Inner {
    shards: Vec<Mutex<HashMap<AccountKey, Account>>>,
    hasher: RandomState,
    lifetimes: Lifetimes,
    bus: Arc<LocalBus>,
}

impl MemoryStore {
    pub fn new(lifetimes: Lifetimes, bus: Arc<LocalBus>) -> Self {
        MemoryStore {
            inner: Arc::new(Inner {
                shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
                hasher: RandomState::new(),
                lifetimes,
                bus,
            }),
        }
    }

    /// Runs `f` on the account (created when missing) after pruning it, as one
    /// locked step, then publishes the expiry event and whatever `f` returned.
    fn with_account<R>(
        &self,
        key: &AccountKey,
        now: Millis,
        f: impl FnOnce(&mut Account) -> (R, Option<StoreEvent>),
    ) -> R {
        self.step(key, now, f).0
    }

    /// Every account currently held (a copy; the shards are not kept locked).
    fn account_keys(&self) -> Vec<AccountKey> {
        self.inner
            .shards
            .iter()
            .flat_map(|s| s.lock().keys().cloned().collect::<Vec<_>>())
            .collect()
    }

    /// `with_account`, also telling how many sessions the pruning ended.
    fn step<R>(
        &self,
        key: &AccountKey,
        now: Millis,
        f: impl FnOnce(&mut Account) -> (R, Option<StoreEvent>),
    ) -> (R, usize) {
        let shard = &self.inner.shards[self.inner.hasher.hash_one(key) as usize % SHARDS];
        let (expired, result, event) = {
            let mut map = shard.lock();
            let account = map.entry(key.clone()).or_default();
            let expired = account.prune(now, self.inner.lifetimes.idle);
            let (result, event) = f(account);
            if account.is_empty() {
                map.remove(key);
            }
            (expired, result, event)
        };
        if let Some(e) = revoked_event(&expired, Reason::Expired, None, now) {
            self.inner.bus.publish(e);
        }
        if let Some(e) = event {
            self.inner.bus.publish(e);
        }
        (result, expired.len())
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
        let new = req.session;
        Ok(self.with_account(&key, req.now, |account| {
            let by = Actor::of(&new, req.now);
            let username = new.username.clone();
            let id = new.session_id.clone();
            match account.sign_in(new, req.policy, req.now, idle) {
                SignInDecision::Admitted { evicted } => {
                    let event = StoreEvent::SignedIn {
                        username,
                        id,
                        revoked: evicted.iter().map(|s| s.session_id.clone()).collect(),
                        by,
                    };
                    (SignInOutcome::Created { revoked: evicted }, Some(event))
                }
                SignInDecision::Denied { live } => (
                    SignInOutcome::Denied { active: live },
                    Some(StoreEvent::LoginBlocked { username, by }),
                ),
            }
        }))
    }

    async fn validate(&self, token: &Token, now: Millis) -> Result<Lookup, StoreError> {
        let hash = token.hash();
        let life = self.inner.lifetimes;
        Ok(self.with_account(token.account(), now, |a| {
            (
                a.lookup(token.session_id(), Some(&hash), now, life, true),
                None,
            )
        }))
    }

    async fn touch(
        &self,
        account: &AccountKey,
        id: &SessionId,
        now: Millis,
    ) -> Result<(), StoreError> {
        let after = self.inner.lifetimes.touch_after;
        self.with_account(account, now, |a| (a.touch(id, now, after), None));
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
        Ok(self.with_account(account, now, |a| {
            let ended = a.end(id, reason, by.clone(), now, idle);
            let event = ended
                .as_ref()
                .and_then(|s| revoked_event(std::slice::from_ref(s), reason, by, now));
            (ended, event)
        }))
    }

    async fn locate(&self, id: &SessionId) -> Result<Option<AccountKey>, StoreError> {
        Ok(self.inner.shards.iter().find_map(|shard| {
            let map = shard.lock();
            map.iter()
                .find(|(_, account)| account.holds(id))
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
        Ok(self.with_account(&AccountKey::of(username), now, |a| {
            let ended = a.end_all(reason, now, idle);
            (ended.len(), revoked_event(&ended, reason, None, now))
        }))
    }

    async fn list(&self, account: &AccountKey, now: Millis) -> Result<Vec<Session>, StoreError> {
        Ok(self.with_account(account, now, |a| (a.live(), None)))
    }

    async fn list_all(&self, now: Millis) -> Result<Vec<Session>, StoreError> {
        let keys = self.account_keys();
        let mut all = Vec::new();
        for key in keys {
            all.extend(self.with_account(&key, now, |a| (a.live(), None)));
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
            .map(|(key, id)| {
                self.with_account(key, now, |a| (a.lookup(id, None, now, life, false), None))
            })
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
                self.step(key, now, |a| (a.forget_stale_tombstones(now), None))
                    .1
            })
            .sum())
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
