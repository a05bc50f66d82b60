//! `RedisStore`: sessions in Redis, shared by every instance that uses it.
//!
//! Choose it to run several instances, or to keep sessions across restarts.
//! Each trait method is one Lua script on one account's keys (see `keys.rs`
//! for the layout), so the policy is atomic across instances and the same
//! scripts run unchanged on Redis Cluster (outside Cluster, signing
//! everyone out runs its script over a batch of accounts per call).
//! Scripts `PUBLISH` their events in
//! the same step; `events::RedisBus` hears them. Connection failures become
//! `StoreError::Unavailable` and nothing is half-written (a script whose reply
//! was lost answers its re-run alike); reachability changes are logged once.
//! The same store counts failed sign-ins for every instance (`failures.rs`)
//! and keeps the audit trail in one capped Stream (`audit.rs`).

mod audit;
mod conn;
mod failures;
mod keys;
mod lookup;
mod outbox;
mod record;
mod requirements;
mod scripts;
mod sentinel;
mod tls;
mod upkeep;

pub use conn::RedisConn;
pub use keys::KeySpace;
pub use outbox::RedisOutbox;
pub use requirements::RequirementError;
pub use sentinel::{SentinelConn, SentinelSubscription};
pub use tls::RedisTls;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::{stream, StreamExt, TryStreamExt};

use super::replies::{RequestId, REPLAY_WINDOW};
use super::{
    AuditPage, AuditQuery, AuditSettings, RedeemOutcome, RedeemRequest, SessionStore,
    SignInOutcome, SignInRequest, StoreError,
};
use crate::domain::{
    AccountKey, Actor, AuditEntry, AuditId, AuditRecord, DeviceName, Lifetimes, Lookup, Millis,
    PolicyOverride, Reason, Session, SessionId, Token, Username, TICKET_LIFETIME,
};
use requirements::Requirements;

/// How many script calls one batch keeps in flight on the multiplexed connection.
const BATCH_IN_FLIGHT: usize = 64;

/// Accounts one `revoke_all.lua` call signs out outside Cluster: at one
/// session each about 0.6 ms of Redis time (some 40 µs an account, more on
/// a busy host; docs/redis.md, "Signing everyone out"), so nothing else
/// waits long behind one call, while the per-call cost (dispatch, script
/// set-up, reply, round trip) is shared by many accounts.
const ACCOUNTS_PER_REVOKE_ALL: usize = 16;

/// `revoke_all.lua` calls in flight outside Cluster: enough that Redis does
/// not idle while the instance answers one reply and sends the next (with
/// three, Redis was busy 72% of a quiet run and 100,000 accounts took 13.9
/// s; BENCHMARKS.md), few enough that a command from anyone else waits
/// behind at most six calls (about 4 ms at 40 µs an account, 8 ms at 80).
const REVOKE_ALL_IN_FLIGHT: usize = 6;

/// Sessions in Redis; cheap to clone (the connection is multiplexed).
#[derive(Clone)]
pub struct RedisStore {
    conn: RedisConn,
    keys: KeySpace,
    lifetimes: Lifetimes,
    /// Whether the last call reached Redis; flips are logged once.
    reachable: Arc<AtomicBool>,
    /// Version and eviction policy, checked again after each reconnect.
    requirements: Arc<Requirements>,
    audit: AuditSettings,
    /// Where `maintain` is in the accounts index.
    walk: Arc<upkeep::Walk>,
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
            requirements: Arc::new(Requirements::new(false)),
            audit: AuditSettings::default(),
            walk: Arc::default(),
        }
    }

    /// Signs and caps the audit trail as `settings` say.
    pub fn with_audit(mut self, settings: AuditSettings) -> Self {
        self.audit = settings;
        self
    }

    /// On Cluster the audit stream cannot be in the account's slot, so the
    /// scripts hand their entries back instead of appending them.
    fn appends_after_script(&self) -> bool {
        matches!(self.conn, RedisConn::Cluster(_))
    }

    /// Runs even on a Redis that may evict keys (logged, not refused).
    pub fn allow_evicting(mut self, allow: bool) -> Self {
        self.requirements = Arc::new(Requirements::new(allow));
        self
    }

    /// Whether the server is one loginguard may run on (Redis 7.0+,
    /// `noeviction`; see `requirements.rs`). `Unsuitable` when it is not,
    /// `Unavailable` when it cannot be asked now.
    pub async fn verify_server(&self) -> Result<(), StoreError> {
        self.requirements.verify(&mut self.conn.clone()).await
    }

    /// A call of `script` on `account`'s keys (`with_account`).
    fn on_account<'a>(
        &self,
        script: &'a redis::Script,
        account: &AccountKey,
    ) -> redis::ScriptInvocation<'a> {
        let mut call = script.prepare_invoke();
        self.with_account(&mut call, account);
        call
    }

    /// Adds `account`'s keys to `call`: every script takes the same three
    /// (sessions, tombstones, tombstone index), in that order.
    fn with_account(&self, call: &mut redis::ScriptInvocation<'_>, account: &AccountKey) {
        let k = self.keys.account(account);
        call.key(&k.sessions)
            .key(&k.tombstones)
            .key(&k.tombstone_index);
    }

    /// `on_account` for a script that changes something: it also gets the
    /// reply key of `request`, so a re-run answers what the first run did.
    fn on_request<'a>(
        &self,
        script: &'a redis::Script,
        account: &AccountKey,
        request: &RequestId,
    ) -> redis::ScriptInvocation<'a> {
        let mut call = self.on_account(script, account);
        call.key(self.keys.reply(account, request));
        call
    }

    /// Runs a session script (`common.lua`): adds the audit trail's
    /// arguments (and, outside Cluster, its stream as the last key), and on
    /// Cluster appends the entries the script handed back. Answers the
    /// script's own reply (`scripts.rs` decodes it).
    async fn run(
        &self,
        invocation: &mut redis::ScriptInvocation<'_>,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        let key = self.keys.audit_stream();
        let cluster = self.appends_after_script();
        invocation.arg(&self.audit.instance);
        if cluster {
            invocation.arg("");
        } else {
            invocation.arg(self.audit.max_entries).key(&key);
        }
        let (reply, entries): (Vec<Vec<u8>>, Vec<String>) =
            self.observe(invocation.invoke_async(&mut self.conn.clone()).await)?;
        if cluster && !entries.is_empty() {
            let appended = audit::append(
                &mut self.conn.clone(),
                &key,
                self.audit.max_entries,
                &entries,
            )
            .await;
            if let Err(e) = appended {
                tracing::warn!(error = ?e, lost = entries.len(), "cannot append to the audit trail after a change");
            }
        }
        Ok(reply)
    }

    /// `SessionStore::audit_after` that waits up to `block` for an entry
    /// to come when there is none yet (`loginguard audit --follow`).
    /// `block` must be shorter than the connection's timeout.
    pub async fn follow_audit(
        &self,
        after: Option<AuditId>,
        limit: usize,
        block: std::time::Duration,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let key = self.keys.audit_stream();
        audit::after(&mut self.conn.clone(), &key, after, limit, Some(block)).await
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
                Ok(_) => {
                    tracing::info!("redis reachable again");
                    self.requirements.reconnected();
                }
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

    /// Runs `script` (`list.lua` or `prune.lua`) on `account`: both end the
    /// account's expired sessions as of `now` and take the same arguments.
    async fn sweep_account(
        &self,
        script: &redis::Script,
        account: &AccountKey,
        now: Millis,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        self.run(
            self.on_account(script, account)
                .arg(now.0)
                .arg(self.idle_ms())
                .arg(self.keys.events_channel()),
        )
        .await
    }

    fn replay_window_ms() -> u64 {
        REPLAY_WINDOW.as_millis() as u64
    }

    async fn revoke_where(
        &self,
        account: &AccountKey,
        id: Option<&SessionId>,
        reason: Reason,
        by: Option<&Actor>,
        now: Millis,
    ) -> Result<Vec<Session>, StoreError> {
        let request = RequestId::revoke(id, reason, by, now);
        let by = match by {
            Some(a) => serde_json::to_string(a).map_err(StoreError::corrupt)?,
            None => String::new(),
        };
        let reply = self
            .run(
                self.on_request(&scripts::REVOKE, account, &request)
                    .arg(now.0)
                    .arg(self.idle_ms())
                    .arg(self.keys.events_channel())
                    .arg(reason.as_str())
                    .arg(by)
                    .arg(id.map(SessionId::as_str).unwrap_or(""))
                    .arg(Self::replay_window_ms()),
            )
            .await?;
        scripts::sessions(&reply)
    }

    /// The slice of the accounts index at `cursor` (`upkeep::slice`).
    async fn accounts_slice(
        &self,
        index: &str,
        cursor: u64,
    ) -> Result<(u64, Vec<String>), StoreError> {
        self.observe(upkeep::slice(&mut self.conn.clone(), index, cursor).await)
    }

    /// `revoke_all.lua` on `accounts`: on Cluster one call per account (each
    /// in its own slot), `BATCH_IN_FLIGHT` at a time; elsewhere one call per
    /// `ACCOUNTS_PER_REVOKE_ALL` accounts, `REVOKE_ALL_IN_FLIGHT` at a time.
    /// How many sessions they ended.
    async fn sign_out_accounts(
        &self,
        accounts: Vec<AccountKey>,
        reason: Reason,
        now: Millis,
    ) -> Result<usize, StoreError> {
        let (per_call, in_flight) = match self.conn {
            RedisConn::Cluster(_) => (1, BATCH_IN_FLIGHT),
            _ => (ACCOUNTS_PER_REVOKE_ALL, REVOKE_ALL_IN_FLIGHT),
        };
        let ended: Vec<usize> = stream::iter(accounts.chunks(per_call).map(<[_]>::to_vec))
            .map(|batch| {
                let this = self.clone();
                async move { this.sign_out_batch(&batch, reason, now).await }
            })
            .buffer_unordered(in_flight)
            .try_collect()
            .await?;
        Ok(ended.into_iter().sum())
    }

    /// One `revoke_all.lua` call on `accounts` (all in one slot on Cluster):
    /// how many of their sessions ended.
    async fn sign_out_batch(
        &self,
        accounts: &[AccountKey],
        reason: Reason,
        now: Millis,
    ) -> Result<usize, StoreError> {
        let request = RequestId::revoke_all(reason, now);
        let mut call = scripts::REVOKE_ALL.prepare_invoke();
        for account in accounts {
            self.with_account(&mut call, account);
            call.key(self.keys.reply(account, &request));
        }
        let reply = self
            .run(
                call.arg(now.0)
                    .arg(self.idle_ms())
                    .arg(self.keys.events_channel())
                    .arg(reason.as_str())
                    .arg(Self::replay_window_ms()),
            )
            .await?;
        scripts::count(&reply)
    }
}

/// The account keys of the accounts index's names (a name that no longer
/// parses is skipped: it cannot have signed in).
fn account_keys(names: &[String]) -> Vec<AccountKey> {
    names
        .iter()
        .filter_map(|n| Username::parse(n).ok())
        .map(|u| AccountKey::of(&u))
        .collect()
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
        let new = record::encode_session(&req.session)?;
        let class_limits =
            serde_json::to_string(&req.policy.class_limits).map_err(StoreError::corrupt)?;
        // The two indexes live in other hash slots than the account, so they
        // cannot be written by its script. An entry whose sign-in then fails
        // is harmless (the admin listing finds no session, `locate` points at
        // an account that does not hold the id), so they need not be atomic
        // with it. Both go out at once: one round trip, not two.
        let mut accounts = redis::cmd("SADD");
        accounts
            .arg(self.keys.accounts_index())
            .arg(req.session.username.as_str());
        let mut by_id = redis::cmd("SET");
        by_id
            .arg(self.keys.session_account(&req.session.session_id))
            .arg(account.as_str())
            .arg("PXAT")
            .arg(req.session.expires_at.0);
        let (mut a, mut b) = (self.conn.clone(), self.conn.clone());
        self.observe(
            futures_util::future::try_join(
                accounts.query_async::<()>(&mut a),
                by_id.query_async::<()>(&mut b),
            )
            .await,
        )?;
        let request = RequestId::sign_in(&req.session.session_id);
        let reply = self
            .run(
                self.on_request(&scripts::SIGN_IN, &account, &request)
                    .key(self.keys.ticket(&account, &req.session.token_hash))
                    .key(self.keys.policy_override(&account))
                    .arg(req.now.0)
                    .arg(new)
                    .arg(req.policy.max_sessions)
                    .arg(req.policy.on_limit.as_str())
                    .arg(self.idle_ms())
                    .arg(self.keys.events_channel())
                    .arg(Self::replay_window_ms())
                    .arg(class_limits)
                    .arg(req.policy.stale_after.map_or(0, |d| d.as_millis() as u64))
                    .arg(TICKET_LIFETIME.as_millis() as u64),
            )
            .await?;
        scripts::sign_in(&reply)
    }

    async fn redeem_ticket(&self, req: RedeemRequest) -> Result<RedeemOutcome, StoreError> {
        // The fresh session's id -> account index, as for a sign-in.
        let mut by_id = redis::cmd("SET");
        by_id
            .arg(self.keys.session_account(&req.fresh.session_id))
            .arg(req.account.as_str())
            .arg("PXAT")
            .arg(req.fresh.expires_at.0);
        self.observe(by_id.query_async::<()>(&mut self.conn.clone()).await)?;
        let request = RequestId::sign_in(&req.fresh.session_id);
        let reply = self
            .run(
                self.on_request(&scripts::REDEEM, &req.account, &request)
                    .key(self.keys.ticket(&req.account, &req.ticket))
                    .key(self.keys.policy_override(&req.account))
                    .arg(req.now.0)
                    .arg(req.chosen.as_str())
                    .arg(req.fresh.session_id.as_str())
                    .arg(record::token_hash(&req.fresh.token_hash))
                    .arg(req.fresh.expires_at.0)
                    .arg(self.idle_ms())
                    .arg(self.keys.events_channel())
                    .arg(Self::replay_window_ms()),
            )
            .await?;
        scripts::redeem(&reply)
    }

    async fn policy_override(
        &self,
        account: &AccountKey,
    ) -> Result<Option<PolicyOverride>, StoreError> {
        let raw: Option<String> = self.observe(
            redis::cmd("GET")
                .arg(self.keys.policy_override(account))
                .query_async(&mut self.conn.clone())
                .await,
        )?;
        raw.map(|json| serde_json::from_str(&json).map_err(StoreError::corrupt))
            .transpose()
    }

    async fn set_policy_override(
        &self,
        account: &AccountKey,
        value: Option<&PolicyOverride>,
    ) -> Result<bool, StoreError> {
        // One key: SET ... GET and DEL are atomic on their own, and the
        // sign-in script reads the key in its own step.
        let key = self.keys.policy_override(account);
        let mut conn = self.conn.clone();
        match value {
            Some(value) => {
                let json = serde_json::to_string(value).map_err(StoreError::corrupt)?;
                let before: Option<String> = self.observe(
                    redis::cmd("SET")
                        .arg(key)
                        .arg(json)
                        .arg("GET")
                        .query_async(&mut conn)
                        .await,
                )?;
                Ok(before.is_some())
            }
            None => {
                let removed: u64 =
                    self.observe(redis::cmd("DEL").arg(key).query_async(&mut conn).await)?;
                Ok(removed > 0)
            }
        }
    }

    async fn undo_sign_in(
        &self,
        account: &AccountKey,
        id: &SessionId,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let reply = self
            .run(
                self.on_request(&scripts::UNDO_SIGN_IN, account, &RequestId::sign_in(id))
                    .arg(now.0)
                    .arg(self.idle_ms())
                    .arg(self.keys.events_channel())
                    .arg(id.as_str())
                    .arg(Self::replay_window_ms()),
            )
            .await?;
        scripts::undone(&reply)
    }

    async fn validate(&self, token: &Token, now: Millis) -> Result<Lookup, StoreError> {
        self.lookup(
            token.account(),
            token.session_id(),
            Some(&token.hash()),
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
        self.lookup(account, id, None, now, true).await.map(|_| ())
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

    async fn locate(&self, id: &SessionId) -> Result<Option<AccountKey>, StoreError> {
        let key: Option<String> = self.observe(
            redis::cmd("GET")
                .arg(self.keys.session_account(id))
                .query_async(&mut self.conn.clone())
                .await,
        )?;
        key.map(|k| {
            AccountKey::parse(&k)
                .ok_or_else(|| StoreError::corrupt(format!("not an account key: {k:?}")))
        })
        .transpose()
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

    /// Walks the accounts index a slice at a time (`upkeep::slice`) and runs
    /// `revoke_all.lua` on its accounts (`sign_out_accounts`): outside
    /// Cluster one short call per batch of accounts, three in flight, so any
    /// other call waits at most for three batches' steps; on Cluster one
    /// call per account in its own slot.
    async fn revoke_all(&self, reason: Reason, now: Millis) -> Result<usize, StoreError> {
        let index = self.keys.accounts_index();
        let (mut next, mut names) = self.accounts_slice(&index, 0).await?;
        let mut ended = 0;
        // Each slice's accounts are signed out while the next slice is read.
        while next != 0 {
            let ((following, more), done) = futures_util::future::try_join(
                self.accounts_slice(&index, next),
                self.sign_out_accounts(account_keys(&names), reason, now),
            )
            .await?;
            ended += done;
            (next, names) = (following, more);
        }
        Ok(ended
            + self
                .sign_out_accounts(account_keys(&names), reason, now)
                .await?)
    }

    async fn list(&self, account: &AccountKey, now: Millis) -> Result<Vec<Session>, StoreError> {
        let reply = self.sweep_account(&scripts::LIST, account, now).await?;
        scripts::sessions(&reply)
    }

    async fn list_all(&self, now: Millis) -> Result<Vec<Session>, StoreError> {
        let names: Vec<String> = self.observe(
            redis::cmd("SMEMBERS")
                .arg(self.keys.accounts_index())
                .query_async(&mut self.conn.clone())
                .await,
        )?;
        let accounts = account_keys(&names);
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
                async move { this.lookup(&a, &id, None, now, false).await }
            })
            .buffered(BATCH_IN_FLIGHT)
            .try_collect()
            .await
    }

    /// Keys and tombstones expire by themselves (see `keys.rs`); what they
    /// cannot do is record a session that lapsed unseen. So each call runs
    /// `prune.lua` on the next slice of the accounts index (`upkeep.rs`),
    /// which buries expired sessions with their `expired` entries as any
    /// script would. Several instances walking the index at once is
    /// harmless: a buried session is not buried again.
    async fn maintain(&self, now: Millis) -> Result<usize, StoreError> {
        let index = self.keys.accounts_index();
        let (next, names) = self.observe(self.walk.next(&mut self.conn.clone(), &index).await)?;
        let ended: Vec<usize> = stream::iter(account_keys(&names))
            .map(|a| {
                let this = self.clone();
                async move {
                    let reply = this.sweep_account(&scripts::PRUNE, &a, now).await?;
                    scripts::count(&reply)
                }
            })
            .buffer_unordered(BATCH_IN_FLIGHT)
            .try_collect()
            .await?;
        self.walk.advance(next);
        Ok(ended.into_iter().sum())
    }

    async fn record_failed_sign_in(
        &self,
        username: &Username,
        device: &DeviceName,
        ip: &str,
        now: Millis,
    ) -> Result<(), StoreError> {
        let record = AuditRecord::sign_in_failed(username, device, ip, now, &self.audit.instance);
        let key = self.keys.audit_stream();
        audit::append_record(
            &mut self.conn.clone(),
            &key,
            self.audit.max_entries,
            &record,
        )
        .await
    }

    async fn audit(&self, query: &AuditQuery) -> Result<AuditPage, StoreError> {
        audit::page(&mut self.conn.clone(), &self.keys.audit_stream(), query).await
    }

    async fn audit_after(
        &self,
        after: Option<AuditId>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let key = self.keys.audit_stream();
        audit::after(&mut self.conn.clone(), &key, after, limit, None).await
    }

    /// Also refuses a server that does not suit us (readiness).
    async fn ping(&self) -> Result<(), StoreError> {
        let _: String =
            self.observe(redis::cmd("PING").query_async(&mut self.conn.clone()).await)?;
        self.verify_server().await
    }
}
