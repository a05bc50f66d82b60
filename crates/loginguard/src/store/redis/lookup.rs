//! Token checks (validation, touch, revalidation) on Redis.
//!
//! `lookup.lua` may end expired sessions and record a use, so it is a
//! script; but almost every check finds its session live and used recently,
//! and then the script only reads. Running it costs Redis some 15 to 25
//! times what one `HGETALL` of the account's sessions does (BENCHMARKS.md,
//! "Validation on Redis"), so a check reads first and lets
//! `domain::lookup_unchanged` answer when nothing would change; anything
//! else (an expired session, a use to record, a tombstone to find) still goes
//! through the script. The read goes to the same master as every script and
//! is one command, so it sees every revocation made before it. Nothing read
//! here may be kept for a later check: that would serve a revoked token.

use super::{record, scripts, RedisStore, StoreError};
use crate::domain::{lookup_unchanged, AccountKey, Lookup, Millis, SessionId, TokenHash};

impl RedisStore {
    /// `id` on `account`, with `hash` when given; with `touch`, a use at
    /// `now` is recorded when the last one is older than the touch interval.
    pub(super) async fn lookup(
        &self,
        account: &AccountKey,
        id: &SessionId,
        hash: Option<&TokenHash>,
        now: Millis,
        touch: bool,
    ) -> Result<Lookup, StoreError> {
        let records: Vec<(String, Vec<u8>)> = self.observe(
            redis::cmd("HGETALL")
                .arg(self.keys.account(account).sessions)
                .query_async(&mut self.conn.clone())
                .await,
        )?;
        let live = records
            .iter()
            .map(|(id, raw)| record::session(raw, Some(id)))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(answer) = lookup_unchanged(live, id, hash, now, self.lifetimes, touch) {
            return Ok(answer);
        }
        self.lookup_script(account, id, hash, now, touch).await
    }

    /// `lookup.lua`: the step that may change the account.
    async fn lookup_script(
        &self,
        account: &AccountKey,
        id: &SessionId,
        hash: Option<&TokenHash>,
        now: Millis,
        touch: bool,
    ) -> Result<Lookup, StoreError> {
        let touch_after = if touch {
            (self.lifetimes.touch_after.as_millis() as u64).to_string()
        } else {
            String::new()
        };
        let reply = self
            .run(
                self.on_account(&scripts::LOOKUP, account)
                    .arg(id.as_str())
                    .arg(hash.map(record::token_hash).unwrap_or_default())
                    .arg(now.0)
                    .arg(self.idle_ms())
                    .arg(touch_after)
                    .arg(self.keys.events_channel()),
            )
            .await?;
        scripts::lookup(&reply)
    }
}
