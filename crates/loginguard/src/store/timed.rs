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

pub struct TimedStore {
    inner: Arc<dyn SessionStore>,
    metrics: Arc<Metrics>,
}

impl TimedStore {
    pub fn new(inner: Arc<dyn SessionStore>, metrics: Arc<Metrics>) -> Self {
        TimedStore { inner, metrics }
    }

    async fn timed<T>(&self, op: &'static str, call: impl std::future::Future<Output = T>) -> T {
        let started = Instant::now();
        let out = call.await;
        self.metrics.store_call(op, started.elapsed().as_secs_f64());
        out
    }
}

#[async_trait]
impl SessionStore for TimedStore {
    async fn sign_in(&self, req: SignInRequest) -> Result<SignInOutcome, StoreError> {
        self.timed("sign_in", self.inner.sign_in(req)).await
    }

    async fn validate(&self, token: &Token, now: Millis) -> Result<Lookup, StoreError> {
        self.timed("validate", self.inner.validate(token, now))
            .await
    }

    async fn touch(
        &self,
        account: &AccountKey,
        id: &SessionId,
        now: Millis,
    ) -> Result<(), StoreError> {
        self.timed("touch", self.inner.touch(account, id, now))
            .await
    }

    async fn revoke(
        &self,
        account: &AccountKey,
        id: &SessionId,
        reason: Reason,
        by: Option<Actor>,
        now: Millis,
    ) -> Result<Option<Session>, StoreError> {
        self.timed("revoke", self.inner.revoke(account, id, reason, by, now))
            .await
    }

    async fn revoke_account(
        &self,
        username: &Username,
        reason: Reason,
        now: Millis,
    ) -> Result<usize, StoreError> {
        self.timed(
            "revoke_account",
            self.inner.revoke_account(username, reason, now),
        )
        .await
    }

    async fn list(&self, account: &AccountKey, now: Millis) -> Result<Vec<Session>, StoreError> {
        self.timed("list", self.inner.list(account, now)).await
    }

    async fn list_all(&self, now: Millis) -> Result<Vec<Session>, StoreError> {
        self.timed("list_all", self.inner.list_all(now)).await
    }

    async fn check(
        &self,
        sessions: &[(AccountKey, SessionId)],
        now: Millis,
    ) -> Result<Vec<Lookup>, StoreError> {
        self.timed("check", self.inner.check(sessions, now)).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.timed("ping", self.inner.ping()).await
    }

    async fn maintain(&self, now: Millis) -> Result<usize, StoreError> {
        self.timed("maintain", self.inner.maintain(now)).await
    }
}
