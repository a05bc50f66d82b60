//! The audit trail's shared parts: what a reader asks for, what it gets, the
//! settings every store takes, and the memory store's capped log.
//!
//! The log is a plain capped queue; `MemoryStore` appends to it while it
//! holds the lock of the account whose change it records, so an entry is
//! never missing for a change that happened. Redis keeps the same entries in
//! a capped Stream (`redis/audit.rs`). Nothing here does I/O.

use std::collections::VecDeque;

use crate::domain::{AuditEntry, AuditId, AuditRecord, Millis, Username};

/// Entries kept by default (`--audit-max-entries`).
pub const DEFAULT_MAX_AUDIT_ENTRIES: usize = 100_000;

/// One page of the trail, newest first: entries older than `before` (from
/// the newest when `None`), at most `limit`, only `username`'s when given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditQuery {
    pub before: Option<AuditId>,
    pub limit: usize,
    pub username: Option<Username>,
}

/// A page and where the next one starts (`None`: nothing older is left).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub next: Option<AuditId>,
}

/// How a store signs and caps its audit trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditSettings {
    /// The name of this instance, written in every entry it makes (the same
    /// id presence publishes).
    pub instance: String,
    /// Entries kept; the oldest are dropped past this (Redis: about this
    /// many, `MAXLEN ~`).
    pub max_entries: usize,
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings {
            instance: "loginguard".to_owned(),
            max_entries: DEFAULT_MAX_AUDIT_ENTRIES,
        }
    }
}

/// The embedded store's trail: the newest `cap` entries, oldest first.
#[derive(Debug)]
pub struct AuditLog {
    entries: VecDeque<AuditEntry>,
    last: AuditId,
    cap: usize,
}

impl AuditLog {
    pub fn new(cap: usize) -> Self {
        AuditLog {
            entries: VecDeque::new(),
            last: AuditId { ms: 0, seq: 0 },
            cap: cap.max(1),
        }
    }

    /// Appends `record` as of `now`, dropping the oldest entry past the cap.
    pub fn append(&mut self, record: AuditRecord, now: Millis) {
        self.last = self.last.next(now);
        self.entries.push_back(AuditEntry {
            id: self.last,
            record,
        });
        while self.entries.len() > self.cap {
            self.entries.pop_front();
        }
    }

    /// At most `limit` entries after `after`, oldest first.
    pub fn after(&self, after: Option<AuditId>, limit: usize) -> Vec<AuditEntry> {
        let start = after.map_or(0, |a| self.entries.partition_point(|e| e.id <= a));
        self.entries.range(start..).take(limit).cloned().collect()
    }

    pub fn page(&self, query: &AuditQuery) -> AuditPage {
        let mut matching = self
            .entries
            .iter()
            .rev()
            .filter(|e| query.before.is_none_or(|b| e.id < b))
            .filter(|e| {
                query
                    .username
                    .as_ref()
                    .is_none_or(|u| &e.record.username == u)
            });
        let entries: Vec<AuditEntry> = matching.by_ref().take(query.limit).cloned().collect();
        let next = match (matching.next(), entries.last()) {
            (Some(_), Some(last)) => Some(last.id),
            _ => None,
        };
        AuditPage { entries, next }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::domain::{AuditKind, Session};

    fn record(n: u8, at: u64) -> AuditRecord {
        let (s, _) = Session::sample(n, Millis(at), Duration::from_secs(60));
        AuditRecord::signed_in(&s, Millis(at), "i")
    }

    #[test]
    fn keeps_the_newest_and_pages_backwards() {
        let mut log = AuditLog::new(3);
        for n in 1..=5 {
            log.append(record(n, 100), Millis(100));
        }
        let first = log.page(&AuditQuery {
            before: None,
            limit: 2,
            username: None,
        });
        let devices: Vec<_> = first
            .entries
            .iter()
            .map(|e| e.record.device.as_ref().unwrap().as_str().to_owned())
            .collect();
        assert_eq!(devices, ["PC5", "PC4"], "newest first, capped at 3");
        assert_eq!(first.entries[0].id, AuditId { ms: 100, seq: 4 });
        let second = log.page(&AuditQuery {
            before: first.next,
            limit: 2,
            username: None,
        });
        assert_eq!(second.entries.len(), 1);
        assert_eq!(second.next, None);
        assert_eq!(second.entries[0].record.kind, AuditKind::SignedIn);
    }

    #[test]
    fn filters_by_user() {
        let mut log = AuditLog::new(10);
        log.append(record(1, 1), Millis(1));
        let page = log.page(&AuditQuery {
            before: None,
            limit: 5,
            username: Some(Username::parse("someone-else").unwrap()),
        });
        assert!(page.entries.is_empty() && page.next.is_none());
    }
}
