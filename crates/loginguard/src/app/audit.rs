//! Reading the audit trail: the admin API's query (`AdminService::audit`
//! answers it) and the `audit` command's listing and `--follow`.
//!
//! The trail itself is written by the store, in the step of each change
//! (and by `sign_in.rs` for wrong passwords); here it is only read. The
//! cursor of a page is the id of the last entry shown (`<ms>-<seq>`, the
//! stream id on Redis), so pages continue after it however many entries
//! were appended meanwhile.

use std::time::Duration;

use super::cursor::page_limit;
use super::AppError;
use crate::domain::{AuditEntry, AuditId, Username};
use crate::store::{AuditQuery, RedisStore, SessionStore, StoreError};

/// Waits between reads while the store cannot be reached (`--follow`).
const FOLLOW_RETRY: Duration = Duration::from_millis(500);
/// Entries read at once while following.
const FOLLOW_BATCH: usize = 1000;

/// A page of the trail from the query's raw `cursor`, `limit` and
/// `username` (each optional; empty means absent).
pub fn audit_query(
    cursor: Option<&str>,
    limit: Option<&str>,
    username: Option<&str>,
) -> Result<AuditQuery, AppError> {
    let limit = page_limit(limit)?;
    let before = cursor
        .filter(|c| !c.is_empty())
        .map(|c| {
            c.parse::<AuditId>()
                .map_err(|_| AppError::BadInput("cursor is not valid"))
        })
        .transpose()?;
    let username = username
        .filter(|u| !u.is_empty())
        .map(|u| {
            Username::parse(u).map_err(|_| AppError::BadInput("username is not a valid user name"))
        })
        .transpose()?;
    Ok(AuditQuery {
        before,
        limit,
        username,
    })
}

/// What `loginguard audit` prints.
pub struct Listing {
    pub username: Option<Username>,
    pub limit: usize,
    /// Oldest first, then every new entry as it comes, until the future is
    /// dropped; without it, the newest `limit` entries, newest first.
    pub follow: bool,
    /// How long one read waits for new entries; shorter than the
    /// connection's `--redis-timeout`.
    pub block: Duration,
}

/// Hands the entries `listing` asks for to `out`, in the order to print
/// them. Returns when done (never with `follow`, unless `out` fails or the
/// store answers something it cannot use).
pub async fn list_audit(
    store: &RedisStore,
    listing: &Listing,
    mut out: impl FnMut(&AuditEntry) -> std::io::Result<()>,
) -> Result<(), ListError> {
    // With --follow, the newest entry of all is where following starts, and
    // the page shown ends there too, so nothing is shown twice or missed.
    let newest = if listing.follow {
        let top = store
            .audit(&AuditQuery {
                before: None,
                limit: 1,
                username: None,
            })
            .await?;
        top.entries.first().map(|e| e.id)
    } else {
        None
    };
    let page = store
        .audit(&AuditQuery {
            before: newest.map(|id| AuditId {
                ms: id.ms,
                seq: id.seq + 1,
            }),
            limit: listing.limit,
            username: listing.username.clone(),
        })
        .await?;
    let mut shown = page.entries;
    if listing.follow {
        shown.reverse();
    }
    for e in &shown {
        out(e)?;
    }
    if !listing.follow {
        return Ok(());
    }
    let mut after = newest;
    loop {
        let batch = match store.follow_audit(after, FOLLOW_BATCH, listing.block).await {
            Ok(batch) => batch,
            Err(StoreError::Unavailable(e)) => {
                tracing::warn!(error = ?e, "redis unavailable; retrying");
                tokio::time::sleep(FOLLOW_RETRY).await;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        for e in &batch {
            after = Some(e.id);
            if listing
                .username
                .as_ref()
                .is_none_or(|u| &e.record.username == u)
            {
                out(e)?;
            }
        }
    }
}

/// Why `list_audit` stopped.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write: {0}")]
    Output(#[from] std::io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_checked() {
        let q = audit_query(Some("17-3"), Some("5"), Some("alice")).unwrap();
        assert_eq!(q.before, Some(AuditId { ms: 17, seq: 3 }));
        assert_eq!((q.limit, q.username.unwrap().as_str()), (5, "alice"));
        let q = audit_query(Some(""), None, Some("")).unwrap();
        assert_eq!((q.before, q.limit, q.username), (None, 100, None));
        for (cursor, limit) in [(Some("x"), None), (Some("1-"), None), (None, Some("0"))] {
            assert!(audit_query(cursor, limit, None).is_err());
        }
        assert!(audit_query(None, None, Some(&"x".repeat(500))).is_err());
    }
}
