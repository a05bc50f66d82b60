//! `RedisStore`: sessions in Redis, shared by every instance that uses it.
//!
//! Choose it to run several instances, or to keep sessions across restarts.
//! Each trait method is one Lua script on one account's keys (see `keys.rs`
//! for the layout), so the policy is atomic across instances and the same
//! scripts run unchanged on Redis Cluster. Scripts `PUBLISH` their events in
//! the same step; `events::RedisBus` hears them. Connection failures become
//! `StoreError::Unavailable` and nothing is half-written; the change between
//! reachable and unreachable is logged once each way.

mod conn;
mod keys;
mod scripts;
mod sentinel;
mod tls;

pub use conn::RedisConn;
pub use keys::KeySpace;
pub use sentinel::{SentinelConn, SentinelSubscription};
pub use tls::RedisTls;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::{stream, StreamExt, TryStreamExt};

use super::{SessionStore, SignInOutcome, SignInRequest, StoreError};
use crate::domain::{
    AccountKey, Actor, Lifetimes, Lookup, Millis, Reason, Session, SessionId, Token, Username,
};

/// How many script calls one batch keeps in flight on the multiplexed connection.
const BATCH_IN_FLIGHT: usize = 64;

/// Sessions in Redis; cheap to clone (the connection is multiplexed).
#[derive(Clone)]
pub struct RedisStore {
    conn: RedisConn,
    keys: KeySpace,
    lifetimes: Lifetimes,
    /// Whether the last call reached Redis; flips are logged once.
    reachable: Arc<AtomicBool>,
}

impl RedisStore {
    /// Uses `conn` without waiting for Redis: a store that is down at start-up
    /// is not fatal, calls fail with `Unavailable` until it answers.
    pub fn new(conn: RedisConn, prefix: &str, lifetimes: Lifetimes) -> Self {
        RedisStore {
            conn,
            keys: KeySpace::new(prefix),
            lifetimes,
            reachable: Arc::new(AtomicBool::new(true)),
        }
    }

    /// A store on one standalone Redis at `url` (system trust roots for `rediss://`).
    pub fn connect(url: &str, prefix: &str, lifetimes: Lifetimes) -> Result<Self, StoreError> {
        Ok(Self::new(
            RedisConn::single(url, &RedisTls::system_roots()).map_err(StoreError::unavailable)?,
            prefix,
            lifetimes,
        ))
    }

    /// A call of `script` on `account`'s keys: every script takes the same
    /// three (sessions, tombstones, tombstone index), in that order.
    fn on_account<'a>(
        &self,
        script: &'a redis::Script,
        account: &AccountKey,
    ) -> redis::ScriptInvocation<'a> {
        let k = self.keys.account(account);
        let mut call = script.prepare_invoke();
        call.key(&k.sessions)
            .key(&k.tombstones)
            .key(&k.tombstone_index);
        call
    }

    /// Runs a script; its reply is a list of strings by convention.
    async fn eval(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<Vec<String>, StoreError> {
        self.observe(invocation.invoke_async(&mut self.conn.clone()).await)
    }

    /// Classifies a Redis result and logs when reachability changes.
    fn observe<T>(&self, result: redis::RedisResult<T>) -> Result<T, StoreError> {
        let result = result.map_err(classify);
        let up = !matches!(result, Err(StoreError::Unavailable(_)));
        if self.reachable.swap(up, Ordering::Relaxed) != up {
            match &result {
                Err(e) => {
                    tracing::warn!(error = ?e, "redis unreachable; sign-ins answer 503 until it is back")
                }
                Ok(_) => tracing::info!("redis reachable again"),
            }
        }
        result
    }

    pub fn keys(&self) -> &KeySpace {
        &self.keys
    }

    fn idle_ms(&self) -> u64 {
        self.lifetimes.idle.as_millis() as u64
    }

    async fn lookup(
        &self,
        account: &AccountKey,
        id: &SessionId,
        hash: &str,
        now: Millis,
        touch: bool,
    ) -> Result<Lookup, StoreError> {
        let touch_after = if touch {
            (self.lifetimes.touch_after.as_millis() as u64).to_string()
        } else {
            String::new()
        };
        let reply = self
            .eval(
                self.on_account(&scripts::LOOKUP, account)
                    .arg(id.as_str())
                    .arg(hash)
                    .arg(now.0)
                    .arg(self.idle_ms())
                    .arg(touch_after)
                    .arg(self.keys.events_channel()),
            )
            .await?;
        scripts::lookup(&reply)
    }

    async fn revoke_where(
        &self,
        account: &AccountKey,
        id: Option<&SessionId>,
        reason: Reason,
        by: Option<&Actor>,
        now: Millis,
    ) -> Result<Vec<Session>, StoreError> {
        let by = match by {
            Some(a) => serde_json::to_string(a).map_err(StoreError::corrupt)?,
            None => String::new(),
        };
        let reply = self
            .eval(
                self.on_account(&scripts::REVOKE, account)
                    .arg(now.0)
                    .arg(self.idle_ms())
                    .arg(self.keys.events_channel())
                    .arg(reason.as_str())
                    .arg(by)
                    .arg(id.map(SessionId::as_str).unwrap_or("")),
            )
            .await?;
        scripts::sessions(&reply)
    }
}

/// Connection trouble is `Unavailable` (503, retry); an answer we cannot use
/// (a script error, a wrong reply type) is `Corrupt`.
fn classify(e: redis::RedisError) -> StoreError {
    use redis::{ErrorKind, ServerErrorKind};
    match e.kind() {
        ErrorKind::Parse | ErrorKind::UnexpectedReturnType => StoreError::corrupt(e),
        ErrorKind::Server(ServerErrorKind::ResponseError | ServerErrorKind::CrossSlot) => {
            StoreError::corrupt(e)
        }
        _ => StoreError::unavailable(e),
    }
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn sign_in(&self, req: SignInRequest) -> Result<SignInOutcome, StoreError> {
        let account = AccountKey::of(&req.session.username);
        let json = serde_json::to_string(&req.session).map_err(StoreError::corrupt)?;
        // The index only feeds the admin listing; an entry for an account whose
        // sign-in then fails is harmless, so it need not be atomic with it.
        let _: () = self.observe(
            redis::cmd("SADD")
                .arg(self.keys.accounts_index())
                .arg(req.session.username.as_str())
                .query_async(&mut self.conn.clone())
                .await,
        )?;
        let reply = self
            .eval(
                self.on_account(&scripts::SIGN_IN, &account)
                    .arg(req.now.0)
                    .arg(json)
                    .arg(req.policy.max_sessions)
                    .arg(req.policy.on_limit.as_str())
                    .arg(self.idle_ms())
                    .arg(self.keys.events_channel()),
            )
            .await?;
        scripts::sign_in(&reply)
    }

    async fn validate(&self, token: &Token, now: Millis) -> Result<Lookup, StoreError> {
        self.lookup(
            token.account(),
            token.session_id(),
            token.hash().as_str(),
            now,
            true,
        )
        .await
    }

    async fn touch(
        &self,
        account: &AccountKey,
        id: &SessionId,
        now: Millis,
    ) -> Result<(), StoreError> {
        self.lookup(account, id, "", now, true).await.map(|_| ())
    }

    async fn revoke(
        &self,
        account: &AccountKey,
        id: &SessionId,
        reason: Reason,
        by: Option<Actor>,
        now: Millis,
    ) -> Result<Option<Session>, StoreError> {
        let mut ended = self
            .revoke_where(account, Some(id), reason, by.as_ref(), now)
            .await?;
        Ok(ended.pop())
    }

    async fn revoke_account(
        &self,
        username: &Username,
        reason: Reason,
        now: Millis,
    ) -> Result<usize, StoreError> {
        let ended = self
            .revoke_where(&AccountKey::of(username), None, reason, None, now)
            .await?;
        Ok(ended.len())
    }

    async fn list(&self, account: &AccountKey, now: Millis) -> Result<Vec<Session>, StoreError> {
        let reply = self
            .eval(
                self.on_account(&scripts::LIST, account)
                    .arg(now.0)
                    .arg(self.idle_ms())
                    .arg(self.keys.events_channel()),
            )
            .await?;
        scripts::sessions(&reply)
    }

    async fn list_all(&self, now: Millis) -> Result<Vec<Session>, StoreError> {
        let names: Vec<String> = self.observe(
            redis::cmd("SMEMBERS")
                .arg(self.keys.accounts_index())
                .query_async(&mut self.conn.clone())
                .await,
        )?;
        let accounts: Vec<AccountKey> = names
            .iter()
            .filter_map(|n| Username::parse(n).ok())
            .map(|u| AccountKey::of(&u))
            .collect();
        // Owned items and a cloned handle per call: borrowed closures here trip
        // the compiler's `Send` inference inside `async_trait`.
        let per_account: Vec<Vec<Session>> = stream::iter(accounts)
            .map(|a| {
                let this = self.clone();
                async move { this.list(&a, now).await }
            })
            .buffered(BATCH_IN_FLIGHT)
            .try_collect()
            .await?;
        Ok(per_account.into_iter().flatten().collect())
    }

    async fn check(
        &self,
        sessions: &[(AccountKey, SessionId)],
        now: Millis,
    ) -> Result<Vec<Lookup>, StoreError> {
        stream::iter(sessions.to_vec())
            .map(|(a, id)| {
                let this = self.clone();
                async move { this.lookup(&a, &id, "", now, false).await }
            })
            .buffered(BATCH_IN_FLIGHT)
            .try_collect()
            .await
    }

    /// Keys expire by themselves (see `keys.rs`), and expired sessions with
    /// sockets are ended by the revalidation sweep; nothing to do here.
    async fn maintain(&self, _now: Millis) -> Result<usize, StoreError> {
        Ok(0)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let _: String =
            self.observe(redis::cmd("PING").query_async(&mut self.conn.clone()).await)?;
        Ok(())
    }
}
