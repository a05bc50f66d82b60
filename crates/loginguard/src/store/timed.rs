//! `TimedStore`: wraps any `SessionStore` and records each call's latency.
//!
//! A decorator so that neither backend knows about metrics; `startup` wraps
//! the chosen store once. It changes no behaviour: every call is passed
//! through as is, errors included.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;

use super::{SessionStore, SignInOutcome, SignInRequest, StoreError};
use crate::domain::{
    AccountKey, Actor, Lookup, Millis, Reason, Session, SessionId, Token, Username,
};
use crate::metrics::Metrics;
use prometheus_client::metrics::histogram::Histogram;

pub struct TimedStore {
    inner: Arc<dyn SessionStore>,
    ops: Ops,
}

/// One histogram per operation, looked up once.
struct Ops {
    sign_in: Histogram,
    undo_sign_in: Histogram,
    validate: Histogram,
    touch: Histogram,
    revoke: Histogram,
    revoke_account: Histogram,
    list: Histogram,
    list_all: Histogram,
    check: Histogram,
    ping: Histogram,
    maintain: Histogram,
}

impl TimedStore {
    pub fn new(inner: Arc<dyn SessionStore>, metrics: Arc<Metrics>) -> Self {
        let ops = Ops {
            sign_in: metrics.store_call("sign_in"),
            undo_sign_in: metrics.store_call("undo_sign_in"),
            validate: metrics.store_call("validate"),
            touch: metrics.store_call("touch"),
            revoke: metrics.store_call("revoke"),
            revoke_account: metrics.store_call("revoke_account"),
            list: metrics.store_call("list"),
            list_all: metrics.store_call("list_all"),
            check: metrics.store_call("check"),
            ping: metrics.store_call("ping"),
            maintain: metrics.store_call("maintain"),
        };
        TimedStore { inner, ops }
    }
}

async fn timed<T>(histogram: &Histogram, call: impl std::future::Future<Output = T>) -> T {
    let started = Instant::now();
    let out = call.await;
    histogram.observe(started.elapsed().as_secs_f64());
    out
}

#[async_trait]
impl SessionStore for TimedStore {
    async fn sign_in(&self, req: SignInRequest) -> Result<SignInOutcome, StoreError> {
        timed(&self.ops.sign_in, self.inner.sign_in(req)).await
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
}
