//! `FailureCounter` on Redis: every instance on the store shares one count.
//!
//! Each call is one small script on one counter's key (`keys::failures`), so
//! it runs atomically in that key's slot; the IP's counter and the account's
//! live in different slots, and a sign-in calls each in turn. `now` and the
//! window come in as arguments; the key's TTL only collects garbage.
//! Failures map into `StoreError` like the session scripts' do.

use async_trait::async_trait;

use super::{scripts, RedisStore};
use crate::domain::{Admission, Millis, FAILURE_WINDOW};
use crate::store::{FailureCounter, FailureKey, StoreError};

impl RedisStore {
    fn on_counter<'a>(
        &self,
        script: &'a redis::Script,
        key: &FailureKey,
        now: Millis,
    ) -> redis::ScriptInvocation<'a> {
        let mut call = script.prepare_invoke();
        call.key(self.keys().failures(key))
            .arg(now.0)
            .arg(FAILURE_WINDOW.as_millis() as u64);
        call
    }
}

#[async_trait]
impl FailureCounter for RedisStore {
    async fn admit(
        &self,
        key: &FailureKey,
        limit: u32,
        now: Millis,
    ) -> Result<Admission, StoreError> {
        let reply = self
            .eval(
                self.on_counter(&scripts::FAILURE_ADMIT, key, now)
                    .arg(limit),
            )
            .await?;
        scripts::failure_admit(&reply)
    }

    async fn settle(
        &self,
        key: &FailureKey,
        window: Millis,
        failed: bool,
        now: Millis,
    ) -> Result<(), StoreError> {
        self.eval(
            self.on_counter(&scripts::FAILURE_SETTLE, key, now)
                .arg(window.0)
                .arg(if failed { "1" } else { "0" }),
        )
        .await
        .map(drop)
    }
}
