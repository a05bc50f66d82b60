//! Administration: `GET /api/admin/sessions` (every live session, paginated,
//! served from a snapshot at most `admin_cache_ttl` old) and
//! `DELETE /api/admin/users/{username}/sessions`.
//!
//! Pages are cut from one snapshot ordered by (username, created_at,
//! session_id); the cursor is the last entry's key, so a refreshed snapshot
//! continues after it instead of repeating or skipping by offset.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::routing::{delete, get};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::Mutex;

use super::extract::Admin;
use super::views::{presence_keys, AdminSession, SessionView};
use super::ApiError;
use crate::domain::{Millis, Reason, Session, Username};
use crate::state::AppState;

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/admin/sessions", get(list))
        .route("/api/admin/users/{username}/sessions", delete(revoke_user))
}

/// The last snapshot of all sessions; refreshed at most once per TTL, by one
/// caller at a time (the lock is held across the store call on purpose).
pub struct AdminCache {
    ttl: Duration,
    snapshot: Mutex<Option<(Millis, Arc<Vec<Session>>)>>,
}

impl AdminCache {
    pub fn new(ttl: Duration) -> Self {
        AdminCache {
            ttl,
            snapshot: Mutex::new(None),
        }
    }

    /// The snapshot, refreshed when older than the TTL.
    pub async fn snapshot(
        &self,
        state: &AppState,
    ) -> Result<(Millis, Arc<Vec<Session>>), ApiError> {
        self.snapshot_within(state, self.ttl).await
    }

    /// The snapshot, refreshed only when older than `max_age` (which is
    /// never taken below the admin TTL).
    pub async fn snapshot_within(
        &self,
        state: &AppState,
        max_age: Duration,
    ) -> Result<(Millis, Arc<Vec<Session>>), ApiError> {
        let max_age = max_age.max(self.ttl);
        let mut slot = self.snapshot.lock().await;
        let now = state.clock.now();
        if let Some((at, list)) = slot.as_ref() {
            if now.since(*at) < max_age.as_millis() as u64 {
                return Ok((*at, list.clone()));
            }
        }
        let mut all = state.store.list_all(now).await?;
        all.sort_by_key(sort_key);
        let fresh = (now, Arc::new(all));
        *slot = Some(fresh.clone());
        Ok(fresh)
    }

    /// Forgets the snapshot so this admin's next page reflects their own change.
    async fn invalidate(&self) {
        *self.snapshot.lock().await = None;
    }
}

fn sort_key(s: &Session) -> (String, u64, String) {
    (
        s.username.to_string(),
        s.created_at.0,
        s.session_id.to_string(),
    )
}

fn encode_cursor(s: &Session) -> String {
    let (user, created, id) = sort_key(s);
    URL_SAFE_NO_PAD.encode(format!("{user}\n{created}\n{id}"))
}

fn decode_cursor(raw: &str) -> Result<(String, u64, String), ApiError> {
    let bad = || ApiError::BadRequest("cursor is not valid".into());
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let mut parts = text.splitn(3, '\n');
    let (Some(user), Some(created), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    Ok((
        user.to_owned(),
        created.parse().map_err(|_| bad())?,
        id.to_owned(),
    ))
}

#[derive(Deserialize)]
struct PageQuery {
    cursor: Option<String>,
    limit: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(|r| ApiError::BadRequest(r.body_text()))?;
    let limit = match q.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::BadRequest("limit must be a whole number from 1 to 1000".into())
            })?,
    };
    let after = q
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(decode_cursor)
        .transpose()?;
    let (generated_at, all) = state.admin_cache.snapshot(&state).await?;
    let start = match &after {
        Some(key) => all.partition_point(|s| &sort_key(s) <= key),
        None => 0,
    };
    let page: Vec<&Session> = all[start..].iter().take(limit).collect();
    let next_cursor = (start + page.len() < all.len())
        .then(|| page.last().map(|s| encode_cursor(s)))
        .flatten();
    let counts = state
        .presence
        .connections(&presence_keys(page.iter().copied()))
        .await;
    let sessions: Vec<AdminSession> = page
        .iter()
        .zip(counts)
        .map(|(s, connections)| AdminSession {
            username: s.username.to_string(),
            view: SessionView::of(s, state.auth.users.get(&s.username)),
            connections,
        })
        .collect();
    Ok(Json(json!({
        "sessions": sessions,
        "count": all.len(),
        "next_cursor": next_cursor,
        "generated_at": generated_at.to_rfc3339(),
    })))
}

async fn revoke_user(
    State(state): State<AppState>,
    admin: Admin,
    raw: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    // A name that cannot exist (not UTF-8, too long, control characters) has
    // no sessions: the same answer as an unknown account.
    let raw = raw.map(|Path(raw)| raw).unwrap_or_default();
    let revoked = match Username::parse(&raw) {
        Ok(user) => {
            state
                .store
                .revoke_account(&user, Reason::RevokedByAdmin, state.clock.now())
                .await?
        }
        Err(_) => 0,
    };
    tracing::info!(target: "audit", admin = %admin.session.username, account = ?raw, revoked, "admin signed out an account");
    state.admin_cache.invalidate().await;
    Ok(Json(json!({ "revoked": revoked })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let key = ("user1".to_owned(), 42u64, "s_00".to_owned());
        let raw = URL_SAFE_NO_PAD.encode(format!("{}\n{}\n{}", key.0, key.1, key.2));
        assert_eq!(decode_cursor(&raw).unwrap(), key);
        assert!(decode_cursor("!!").is_err());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode("a\nb")).is_err());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode("a\nnotanumber\nc")).is_err());
    }
}
