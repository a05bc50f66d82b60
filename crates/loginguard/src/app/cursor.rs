//! Pages of the admin list: the page request and its opaque cursor, and
//! the page size every paged admin answer shares.
//!
//! The cursor is the last shown entry's position in the snapshot order
//! (account, created_at, id), so a refreshed snapshot continues after it
//! instead of repeating or skipping by offset. Parsed here, once.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::AppError;
use crate::domain::Session;
use crate::store::snapshot_order;

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

/// A position in the snapshot order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor {
    username: String,
    created_at: u64,
    session_id: String,
}

impl Cursor {
    /// Just after `s`.
    pub fn after(s: &Session) -> Self {
        let (username, created_at, session_id) = snapshot_order(s);
        Cursor {
            username: username.to_owned(),
            created_at,
            session_id: session_id.to_owned(),
        }
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "{}\n{}\n{}",
            self.username, self.created_at, self.session_id
        ))
    }

    pub fn decode(raw: &str) -> Result<Self, AppError> {
        let bad = || AppError::BadInput("cursor is not valid");
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let mut parts = text.splitn(3, '\n');
        let (Some(user), Some(created), Some(id)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        Ok(Cursor {
            username: user.to_owned(),
            created_at: created.parse().map_err(|_| bad())?,
            session_id: id.to_owned(),
        })
    }

    /// Whether `s` comes at or before this position.
    pub fn is_past(&self, s: &Session) -> bool {
        let (username, created_at, session_id) = snapshot_order(s);
        (username, created_at, session_id)
            <= (
                self.username.as_str(),
                self.created_at,
                self.session_id.as_str(),
            )
    }
}

/// Which page: after `cursor` (from the start when none), `limit` entries.
#[derive(Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub after: Option<Cursor>,
    pub limit: usize,
}

impl PageRequest {
    /// From the query's raw `cursor` and `limit` (both optional; an empty
    /// cursor is the first page).
    pub fn parse(cursor: Option<&str>, limit: Option<&str>) -> Result<Self, AppError> {
        let limit = page_limit(limit)?;
        let after = cursor
            .filter(|c| !c.is_empty())
            .map(Cursor::decode)
            .transpose()?;
        Ok(PageRequest { after, limit })
    }
}

/// A page size from the query: 100 when absent, else 1 to 1000 (the admin
/// list and the audit trail alike).
pub fn page_limit(raw: Option<&str>) -> Result<usize, AppError> {
    match raw {
        None => Ok(DEFAULT_LIMIT),
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or(AppError::BadInput(
                "limit must be a whole number from 1 to 1000",
            )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let cursor = Cursor {
            username: "user1".into(),
            created_at: 42,
            session_id: "s_00".into(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        assert!(Cursor::decode("!!").is_err());
        assert!(Cursor::decode(&URL_SAFE_NO_PAD.encode("a\nb")).is_err());
        assert!(Cursor::decode(&URL_SAFE_NO_PAD.encode("a\nnotanumber\nc")).is_err());
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(PageRequest::parse(None, None).unwrap().limit, 100);
        assert_eq!(
            PageRequest::parse(Some(""), Some("1000")).unwrap().limit,
            1000
        );
        for bad in ["0", "1001", "x", "-1"] {
            assert!(PageRequest::parse(None, Some(bad)).is_err(), "{bad}");
        }
    }
}
