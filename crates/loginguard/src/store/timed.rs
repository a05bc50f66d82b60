//! `TimedStore`: wraps any `SessionStore` and records each call's latency
//! and failures.
//!
//! A decorator so that neither backend knows about metrics; `startup` wraps
//! the chosen store once. It changes no behaviour: every call is passed
//! through as is, errors included.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;

use super::{
    AuditPage, AuditQuery, RedeemOutcome, RedeemRequest, SessionStore, SignInOutcome,
    SignInRequest, StoreError,
};
use crate::domain::{
    AccountKey, Actor, AuditEntry, AuditId, DeviceName, Lookup, Millis, PolicyOverride, Reason,
    Session, SessionId, Token, Username,
};
use crate::metrics::Metrics;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;

pub struct TimedStore {
    inner: Arc<dyn SessionStore>,
    ops: Ops,
}

/// One histogram and two error counters per operation, looked up once.
struct Ops {
    sign_in: Op,
    redeem_ticket: Op,
    policy_override: Op,
    set_policy_override: Op,
    undo_sign_in: Op,
    validate: Op,
    touch: Op,
    revoke: Op,
    locate: Op,
    revoke_account: Op,
    revoke_all: Op,
    list: Op,
    list_all: Op,
    check: Op,
    ping: Op,
    maintain: Op,
    record_failed_sign_in: Op,
    audit: Op,
}

impl TimedStore {
    pub fn new(inner: Arc<dyn SessionStore>, metrics: Arc<Metrics>) -> Self {
        let ops = Ops {
            sign_in: Op::new(&metrics, "sign_in"),
            redeem_ticket: Op::new(&metrics, "redeem_ticket"),
            policy_override: Op::new(&metrics, "policy_override"),
            set_policy_override: Op::new(&metrics, "set_policy_override"),
            undo_sign_in: Op::new(&metrics, "undo_sign_in"),
            validate: Op::new(&metrics, "validate"),
            touch: Op::new(&metrics, "touch"),
            revoke: Op::new(&metrics, "revoke"),
            locate: Op::new(&metrics, "locate"),
            revoke_account: Op::new(&metrics, "revoke_account"),
            revoke_all: Op::new(&metrics, "revoke_all"),
            list: Op::new(&metrics, "list"),
            list_all: Op::new(&metrics, "list_all"),
            check: Op::new(&metrics, "check"),
            ping: Op::new(&metrics, "ping"),
            maintain: Op::new(&metrics, "maintain"),
            record_failed_sign_in: Op::new(&metrics, "record_failed_sign_in"),
            audit: Op::new(&metrics, "audit"),
        };
        TimedStore { inner, ops }
    }
}

/// The metrics of one operation.
struct Op {
    latency: Histogram,
    unavailable: Counter,
    corrupt: Counter,
}

impl Op {
    fn new(metrics: &Metrics, op: &'static str) -> Self {
        Op {
            latency: metrics.store_call(op),
            unavailable: metrics.store_error(op, "unavailable"),
            corrupt: metrics.store_error(op, "corrupt"),
        }
    }
}

async fn timed<T>(
    op: &Op,
    call: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let started = Instant::now();
    let out = call.await;
    op.latency.observe(started.elapsed().as_secs_f64());
    if let Err(e) = &out {
        let counter = match e {
            StoreError::Corrupt(_) => &op.corrupt,
            StoreError::Unavailable(_) | StoreError::EventsNotHeard | StoreError::Unsuitable(_) => {
                &op.unavailable
            }
        };
        counter.inc();
    }
    out
}

#[async_trait]
impl SessionStore for TimedStore {
    async fn sign_in(&self, req: SignInRequest) -> Result<SignInOutcome, StoreError> {
        timed(&self.ops.sign_in, self.inner.sign_in(req)).await
    }

    async fn redeem_ticket(&self, req: RedeemRequest) -> Result<RedeemOutcome, StoreError> {
        timed(&self.ops.redeem_ticket, self.inner.redeem_ticket(req)).await
    }

    async fn policy_override(
        &self,
        account: &AccountKey,
    ) -> Result<Option<PolicyOverride>, StoreError> {
        timed(
            &self.ops.policy_override,
            self.inner.policy_override(account),
        )
        .await
    }

    async fn set_policy_override(
        &self,
        account: &AccountKey,
        value: Option<&PolicyOverride>,
    ) -> Result<bool, StoreError> {
        timed(
            &self.ops.set_policy_override,
            self.inner.set_policy_override(account, value),
        )
        .await
    }

    async fn undo_sign_in(
        &self,
        account: &AccountKey,
        id: &SessionId,
        now: Millis,
    ) -> Result<bool, StoreError> {
        timed(
            &self.ops.undo_sign_in,
            self.inner.undo_sign_in(account, id, now),
        )
        .await
    }

    async fn validate(&self, token: &Token, now: Millis) -> Result<Lookup, StoreError> {
        timed(&self.ops.validate, self.inner.validate(token, now)).await
    }

    async fn touch(
        &self,
        account: &AccountKey,
        id: &SessionId,
        now: Millis,
    ) -> Result<(), StoreError> {
        timed(&self.ops.touch, self.inner.touch(account, id, now)).await
    }

    async fn revoke(
        &self,
        account: &AccountKey,
        id: &SessionId,
        reason: Reason,
        by: Option<Actor>,
        now: Millis,
    ) -> Result<Option<Session>, StoreError> {
        timed(
            &self.ops.revoke,
            self.inner.revoke(account, id, reason, by, now),
        )
        .await
    }

    async fn locate(&self, id: &SessionId) -> Result<Option<AccountKey>, StoreError> {
        timed(&self.ops.locate, self.inner.locate(id)).await
    }

    async fn revoke_account(
        &self,
        username: &Username,
        reason: Reason,
        now: Millis,
    ) -> Result<usize, StoreError> {
        timed(
            &self.ops.revoke_account,
            self.inner.revoke_account(username, reason, now),
        )
        .await
    }

    async fn revoke_all(&self, reason: Reason, now: Millis) -> Result<usize, StoreError> {
        timed(&self.ops.revoke_all, self.inner.revoke_all(reason, now)).await
    }

    async fn list(&self, account: &AccountKey, now: Millis) -> Result<Vec<Session>, StoreError> {
        timed(&self.ops.list, self.inner.list(account, now)).await
    }

    async fn list_all(&self, now: Millis) -> Result<Vec<Session>, StoreError> {
        timed(&self.ops.list_all, self.inner.list_all(now)).await
    }

    async fn check(
        &self,
        sessions: &[(AccountKey, SessionId)],
        now: Millis,
    ) -> Result<Vec<Lookup>, StoreError> {
        timed(&self.ops.check, self.inner.check(sessions, now)).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        timed(&self.ops.ping, self.inner.ping()).await
    }

    async fn maintain(&self, now: Millis) -> Result<usize, StoreError> {
        timed(&self.ops.maintain, self.inner.maintain(now)).await
    }

    async fn record_failed_sign_in(
        &self,
        username: &Username,
        device: &DeviceName,
        ip: &str,
        now: Millis,
    ) -> Result<(), StoreError> {
        timed(
            &self.ops.record_failed_sign_in,
            self.inner.record_failed_sign_in(username, device, ip, now),
        )
        .await
    }

    async fn audit(&self, query: &AuditQuery) -> Result<AuditPage, StoreError> {
        timed(&self.ops.audit, self.inner.audit(query)).await
    }

    async fn audit_after(
        &self,
        after: Option<AuditId>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        timed(&self.ops.audit, self.inner.audit_after(after, limit)).await
    }
}
