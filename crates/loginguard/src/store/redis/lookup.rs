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
//! The reply is decoded from its own bytes (`records`), not first copied
//! into a `String` per field and record (allocation is much of a check's
//! CPU; docs/redis.md has the counts).

use redis::Value;

use super::{record, scripts, RedisStore, StoreError};
use crate::domain::{lookup_unchanged, AccountKey, Lookup, Millis, Session, SessionId, TokenHash};

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
        let reply: Value = self.observe(
            redis::cmd("HGETALL")
                .arg(self.keys.sessions(account))
                .query_async(&mut self.conn.clone())
                .await,
        )?;
        let live = records(&reply)?;
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

/// The session records of an `HGETALL` reply, each decoded straight from the
/// reply's bytes with its field (the session id: a stored record leaves it
/// out). RESP2 answers a flat field, value, ... array; RESP3 a map.
fn records(reply: &Value) -> Result<Vec<Session>, StoreError> {
    match reply {
        Value::Array(flat) if flat.len() % 2 == 0 => flat
            .chunks_exact(2)
            .map(|pair| stored(&pair[0], &pair[1]))
            .collect(),
        Value::Map(pairs) => pairs.iter().map(|(id, v)| stored(id, v)).collect(),
        other => Err(StoreError::corrupt(format!(
            "unexpected HGETALL reply {other:?}"
        ))),
    }
}

fn stored(id: &Value, value: &Value) -> Result<Session, StoreError> {
    match (id, value) {
        (Value::BulkString(id), Value::BulkString(raw)) => record::session(
            raw,
            Some(std::str::from_utf8(id).map_err(StoreError::corrupt)?),
        ),
        other => Err(StoreError::corrupt(format!(
            "unexpected session record {other:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `a` as JSON (a record from before the compact encoding), any other
    /// compact, as the scripts store them.
    fn stored(session: &Session) -> Value {
        Value::BulkString(if session.created_at == Millis(1_000) {
            serde_json::to_vec(session).unwrap()
        } else {
            record::encode_session(session).unwrap()
        })
    }

    fn field(session: &Session) -> Value {
        Value::BulkString(session.session_id.as_str().as_bytes().to_vec())
    }

    #[test]
    fn records_decode_both_reply_shapes_and_refuse_anything_else() {
        let life = std::time::Duration::from_secs(3600);
        let (a, _) = Session::sample(1, Millis(1_000), life);
        let (b, _) = Session::sample(2, Millis(2_000), life);
        let resp2 = Value::Array(vec![field(&a), stored(&a), field(&b), stored(&b)]);
        let resp3 = Value::Map(vec![(field(&a), stored(&a)), (field(&b), stored(&b))]);
        for reply in [resp2, resp3] {
            let ids: Vec<_> = records(&reply)
                .unwrap()
                .into_iter()
                .map(|s| s.session_id)
                .collect();
            assert_eq!(ids, [a.session_id.clone(), b.session_id.clone()]);
        }
        assert!(records(&Value::Array(vec![])).unwrap().is_empty());
        for bad in [
            Value::Array(vec![field(&a)]),
            Value::Array(vec![field(&a), Value::Int(1)]),
            Value::Array(vec![field(&a), Value::BulkString(vec![0xff, b'{'])]),
            Value::Array(vec![field(&a), Value::BulkString(b"{}".to_vec())]),
            Value::Okay,
        ] {
            assert!(
                matches!(records(&bad), Err(StoreError::Corrupt(_))),
                "{bad:?}"
            );
        }
    }
}
