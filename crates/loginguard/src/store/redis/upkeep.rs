//! The upkeep walk: where `RedisStore::maintain` is in the accounts index.
//!
//! Each call reads the next slice of `<p>:{idx}:accounts` with `SSCAN` and
//! starts over when a pass ends, so no call's work grows with the number of
//! accounts (docs/redis.md, "Sessions that lapse unseen"). It only keeps the
//! cursor; ending sessions is `prune.lua`'s job, run by the store. Signing
//! everyone out reads the index with the same `slice`, in one pass.

use std::sync::atomic::{AtomicU64, Ordering};

use super::RedisConn;

/// Account names asked of `SSCAN` per call (a hint: Redis may answer a few
/// more, or a whole small set at once).
pub const ACCOUNTS_PER_CALL: usize = 500;

/// The `SSCAN` cursor, kept between calls; 0 starts a pass.
#[derive(Default)]
pub struct Walk {
    cursor: AtomicU64,
}

impl Walk {
    /// The next slice of the index and the cursor that follows it; the walk
    /// moves on only when `advance` is called with it, so a slice whose
    /// accounts could not all be pruned is read again next time.
    pub async fn next(
        &self,
        conn: &mut RedisConn,
        index: &str,
    ) -> redis::RedisResult<(u64, Vec<String>)> {
        slice(conn, index, self.cursor.load(Ordering::Relaxed)).await
    }

    pub fn advance(&self, next: u64) {
        self.cursor.store(next, Ordering::Relaxed);
    }
}

/// The slice of the accounts index at `cursor` and the cursor that follows
/// it (0 when the pass is over). One `SSCAN`: it never blocks Redis for
/// longer than reading a few hundred names.
pub async fn slice(
    conn: &mut RedisConn,
    index: &str,
    cursor: u64,
) -> redis::RedisResult<(u64, Vec<String>)> {
    redis::cmd("SSCAN")
        .arg(index)
        .arg(cursor)
        .arg("COUNT")
        .arg(ACCOUNTS_PER_CALL)
        .query_async(conn)
        .await
}
