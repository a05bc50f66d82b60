//! The audit trail in Redis: one capped Stream, `<p>:{audit}:log`.
//!
//! On standalone Redis and Sentinel every script appends its entries to the
//! stream itself (`XADD ... MAXLEN ~`), in the same atomic step as the
//! change. On Cluster the stream has its own slot, which no account's
//! script may touch, so the scripts hand their entries back and `append`
//! adds them right after the script answered: an entry is lost if the
//! instance dies, or the script's reply is lost, in between (docs/redis.md).
//! Reading pages backwards with `XREVRANGE`; forwards with `XREAD`
//! (`BLOCK` to follow).
//! Each entry has one field, `e`, holding `AuditRecord` JSON.

use std::collections::HashMap;
use std::time::Duration;

use redis::aio::ConnectionLike;

use super::super::{AuditPage, AuditQuery};
use crate::domain::{AuditEntry, AuditId, AuditRecord};

/// The stream field that holds an entry's JSON.
const FIELD: &str = "e";
/// Entries read per `XREVRANGE` while a page filtered by user is filled.
const FILTER_BATCH: usize = 1000;
/// Entries a page filtered by user looks at before it answers with what it
/// found (and a cursor to go on from), so a rare user cannot make one
/// request read the whole stream.
const FILTER_BUDGET: usize = 10_000;

/// One stream entry as Redis answers it: id and field -> value.
type Raw = (String, HashMap<String, String>);

/// Appends already-encoded records (a Cluster script's leftovers).
pub async fn append(
    conn: &mut impl ConnectionLike,
    key: &str,
    cap: usize,
    records: &[String],
) -> redis::RedisResult<()> {
    let mut pipe = redis::pipe();
    for json in records {
        pipe.cmd("XADD")
            .arg(key)
            .arg("MAXLEN")
            .arg("~")
            .arg(cap)
            .arg("*")
            .arg(FIELD)
            .arg(json)
            .ignore();
    }
    pipe.query_async(conn).await
}

/// Appends one record.
pub async fn append_record(
    conn: &mut impl ConnectionLike,
    key: &str,
    cap: usize,
    record: &AuditRecord,
) -> Result<(), super::StoreError> {
    let json = serde_json::to_string(record).map_err(super::StoreError::corrupt)?;
    append(conn, key, cap, &[json])
        .await
        .map_err(super::classify)
}

/// One page, newest first.
pub async fn page(
    conn: &mut impl ConnectionLike,
    key: &str,
    query: &AuditQuery,
) -> Result<AuditPage, super::StoreError> {
    let batch = match query.username {
        None => query.limit + 1,
        Some(_) => FILTER_BATCH.max(query.limit + 1),
    };
    let mut found = Vec::new();
    let mut end = query.before;
    let mut looked = 0;
    loop {
        let upper = match end {
            Some(id) => format!("({id}"),
            None => "+".to_owned(),
        };
        let raw: Vec<Raw> = redis::cmd("XREVRANGE")
            .arg(key)
            .arg(upper)
            .arg("-")
            .arg("COUNT")
            .arg(batch)
            .query_async(conn)
            .await
            .map_err(super::classify)?;
        let exhausted = raw.len() < batch;
        looked += raw.len();
        for r in raw {
            let entry = decode(r)?;
            end = Some(entry.id);
            let wanted = query
                .username
                .as_ref()
                .is_none_or(|u| &entry.record.username == u);
            if wanted {
                found.push(entry);
                if found.len() > query.limit {
                    found.truncate(query.limit);
                    let next = found.last().map(|e| e.id);
                    return Ok(AuditPage {
                        entries: found,
                        next,
                    });
                }
            }
        }
        if exhausted {
            return Ok(AuditPage {
                entries: found,
                next: None,
            });
        }
        if looked >= FILTER_BUDGET {
            return Ok(AuditPage {
                entries: found,
                next: end,
            });
        }
    }
}

/// At most `count` entries after `after` (from the start when `None`),
/// oldest first; with `block`, waiting up to that long for the first one.
pub async fn after(
    conn: &mut impl ConnectionLike,
    key: &str,
    after: Option<AuditId>,
    count: usize,
    block: Option<Duration>,
) -> Result<Vec<AuditEntry>, super::StoreError> {
    let from = after.map_or_else(|| "0-0".to_owned(), |id| id.to_string());
    let mut cmd = redis::cmd("XREAD");
    cmd.arg("COUNT").arg(count);
    if let Some(block) = block {
        cmd.arg("BLOCK").arg(block.as_millis() as u64);
    }
    let reply: Option<Vec<(String, Vec<Raw>)>> = cmd
        .arg("STREAMS")
        .arg(key)
        .arg(from)
        .query_async(conn)
        .await
        .map_err(super::classify)?;
    reply
        .into_iter()
        .flatten()
        .flat_map(|(_, entries)| entries)
        .map(decode)
        .collect()
}

fn decode((id, mut fields): Raw) -> Result<AuditEntry, super::StoreError> {
    let id: AuditId = id.parse().map_err(super::StoreError::corrupt)?;
    let json = fields
        .remove(FIELD)
        .ok_or_else(|| super::StoreError::corrupt(format!("audit entry {id} has no `e`")))?;
    let record = serde_json::from_str(&json).map_err(super::StoreError::corrupt)?;
    Ok(AuditEntry { id, record })
}
