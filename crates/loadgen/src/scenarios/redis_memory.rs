//! `redis-memory`: what live sessions and tombstones cost in Redis.
//!
//! Creates `--sessions` sessions, one per subject, through the trusted-backend
//! API (no password hashing, so 100,000 take seconds), waits `--settle` for
//! the requests' short-lived reply keys to expire, and reads Redis's
//! `used_memory` and every key under the prefix with `MEMORY USAGE`,
//! grouped by kind. Then it ends every session (each leaves a tombstone),
//! settles and measures again. Reads Redis only; writes go through loginguard.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use hyper::Method;
use redis::aio::MultiplexedConnection;
use serde::Serialize;

use super::backend_calls::{create_session, drive, Calls, Errors};
use crate::cli::RedisMemoryArgs;
use crate::LoadgenError;

/// Keys read per SCAN step and per pipelined batch of MEMORY USAGE.
const SCAN_BATCH: usize = 1000;

#[derive(Debug, Serialize)]
pub struct RedisMemoryReport {
    pub scenario: &'static str,
    pub target: String,
    pub sessions: u64,
    pub created: u64,
    pub ended: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub settle_s: f64,
    /// `used_memory` before anything was created.
    pub used_memory_before: u64,
    /// With every session live.
    pub live: Snapshot,
    /// With every session ended (tombstones only).
    pub ended_state: Snapshot,
    /// (live.used_memory - before) / sessions.
    pub bytes_per_session: f64,
    /// (ended_state.used_memory - before) / sessions.
    pub bytes_per_tombstone: f64,
}

/// Redis's memory at one moment.
#[derive(Debug, Serialize)]
pub struct Snapshot {
    pub used_memory: u64,
    pub keys: u64,
    /// `MEMORY USAGE` summed per key kind (`{a}:s`, `{s}:a`, ...).
    pub by_kind: BTreeMap<String, KindUsage>,
}

#[derive(Debug, Default, Serialize)]
pub struct KindUsage {
    pub keys: u64,
    pub bytes: u64,
    /// bytes / the run's sessions.
    pub bytes_per_session: f64,
}

pub async fn run(a: &RedisMemoryArgs) -> Result<RedisMemoryReport, LoadgenError> {
    let client = redis::Client::open(a.redis.as_str())
        .map_err(|e| LoadgenError::Arg(format!("--redis {}: {e}", a.redis)))?;
    let mut redis = client.get_multiplexed_async_connection().await?;
    let before = used_memory(&mut redis).await?;

    let errors = Arc::new(Errors::default());
    let created = drive(
        calls(a, "create"),
        errors.clone(),
        |i| create_session(&subject(i), "loadgen redis-memory"),
        |_, _| {},
    )
    .await?;
    tokio::time::sleep(a.settle).await;
    let live = snapshot(&mut redis, &a.prefix, a.sessions).await?;

    let ended = drive(
        calls(a, "end"),
        errors.clone(),
        |i| {
            let path = format!("/api/v1/subjects/{}/sessions", subject(i));
            (Method::DELETE, path, None, 200)
        },
        |_, _| {},
    )
    .await?;
    tokio::time::sleep(a.settle).await;
    let ended_state = snapshot(&mut redis, &a.prefix, a.sessions).await?;

    let per = |after: u64| after.saturating_sub(before) as f64 / a.sessions as f64;
    let first_error = errors.first();
    Ok(RedisMemoryReport {
        scenario: "redis-memory",
        target: a.target.target.to_string(),
        sessions: a.sessions,
        created,
        ended,
        errors: errors.count.load(Ordering::Relaxed),
        first_error,
        settle_s: a.settle.as_secs_f64(),
        used_memory_before: before,
        bytes_per_session: per(live.used_memory),
        bytes_per_tombstone: per(ended_state.used_memory),
        live,
        ended_state,
    })
}

/// The calls of one phase, over `--concurrency` connections.
fn calls<'a>(a: &'a RedisMemoryArgs, phase: &str) -> Calls<'a> {
    Calls {
        target: &a.target.target,
        api_key: &a.api_key,
        count: a.sessions,
        concurrency: a.concurrency,
        duration: a.duration,
        label: format!("redis-memory: {phase}"),
    }
}

/// The subject of session `i`: one account each.
fn subject(i: u64) -> String {
    format!("mem{i}")
}

async fn used_memory(redis: &mut MultiplexedConnection) -> Result<u64, LoadgenError> {
    let info: String = redis::cmd("INFO").arg("memory").query_async(redis).await?;
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| LoadgenError::Protocol("INFO memory has no used_memory".into()))
}

/// `used_memory` and every key under `prefix`, summed by kind.
async fn snapshot(
    redis: &mut MultiplexedConnection,
    prefix: &str,
    sessions: u64,
) -> Result<Snapshot, LoadgenError> {
    let used = used_memory(redis).await?;
    let mut by_kind: BTreeMap<String, KindUsage> = BTreeMap::new();
    let mut keys = 0u64;
    let mut cursor = 0u64;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(SCAN_BATCH)
            .query_async(redis)
            .await?;
        let mut pipe = redis::pipe();
        for key in &batch {
            pipe.cmd("MEMORY")
                .arg("USAGE")
                .arg(key)
                .arg("SAMPLES")
                .arg(0);
        }
        // A key that expired between SCAN and MEMORY USAGE answers nil.
        let sizes: Vec<Option<u64>> = pipe.query_async(redis).await?;
        for (key, size) in batch.iter().zip(sizes) {
            let Some(size) = size else { continue };
            let usage = by_kind.entry(kind_of(prefix, key)).or_default();
            usage.keys += 1;
            usage.bytes += size;
            keys += 1;
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    for usage in by_kind.values_mut() {
        usage.bytes_per_session = usage.bytes as f64 / sessions as f64;
    }
    Ok(Snapshot {
        used_memory: used,
        keys,
        by_kind,
    })
}

/// A key's kind: its hash tag's type and what follows the tag, without ids
/// (`lg:{a:3f..}:s` -> `{a}:s`, `lg:{a:3f..}:r:9c..` -> `{a}:r`,
/// `lg:{idx}:accounts` -> `{idx}:accounts`, `lg:events` -> `events`).
fn kind_of(prefix: &str, key: &str) -> String {
    let rest = key
        .strip_prefix(prefix)
        .and_then(|r| r.strip_prefix(':'))
        .unwrap_or(key);
    let Some(open) = rest.find('{') else {
        return rest.split(':').next().unwrap_or(rest).to_owned();
    };
    let Some(close) = rest[open..].find('}').map(|c| open + c) else {
        return rest.to_owned();
    };
    let tag = &rest[open + 1..close];
    let tag_kind = tag.split(':').next().unwrap_or(tag);
    let suffix = rest[close + 1..]
        .split(':')
        .find(|s| !s.is_empty())
        .map(|s| format!(":{s}"))
        .unwrap_or_default();
    format!("{{{tag_kind}}}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::kind_of;

    #[test]
    fn kinds_drop_ids() {
        assert_eq!(kind_of("lg", "lg:{a:3f00aa}:s"), "{a}:s");
        assert_eq!(kind_of("lg", "lg:{a:3f00aa}:xe"), "{a}:xe");
        assert_eq!(kind_of("lg", "lg:{a:3f00aa}:r:9c9c"), "{a}:r");
        assert_eq!(kind_of("lg", "lg:{s:77}:a"), "{s}:a");
        assert_eq!(kind_of("lg", "lg:{idx}:accounts"), "{idx}:accounts");
        assert_eq!(kind_of("lg", "lg:events"), "events");
        assert_eq!(kind_of("lg", "lg:{broken"), "{broken");
    }
}
