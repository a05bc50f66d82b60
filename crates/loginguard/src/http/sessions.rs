//! The caller's own sessions: `GET /api/auth/session`, `GET /api/auth/sessions`,
//! `DELETE /api/auth/sessions/{session_id}`.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::extract::Authenticated;
use super::views::{presence_keys, ListedSession, SessionView};
use super::ApiError;
use crate::domain::{AccountKey, Actor, Reason, SessionId};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/session", get(current))
        .route("/api/auth/sessions", get(list))
        .route("/api/auth/sessions/{session_id}", delete(revoke))
}

async fn current(State(state): State<AppState>, auth: Authenticated) -> Json<SessionView> {
    let user = state.auth.users.get(&auth.session.username);
    Json(SessionView::of(&auth.session, user))
}

async fn list(State(state): State<AppState>, auth: Authenticated) -> Result<Json<Value>, ApiError> {
    let me = &auth.session;
    let user = state.auth.users.get(&me.username);
    let sessions = state
        .store
        .list(&AccountKey::of(&me.username), state.clock.now())
        .await?;
    let counts = state.presence.connections(&presence_keys(&sessions)).await;
    let listed: Vec<ListedSession> = sessions
        .iter()
        .zip(counts)
        .map(|(s, connections)| ListedSession {
            view: SessionView::of(s, user),
            current: s.session_id == me.session_id,
            connections,
        })
        .collect();
    Ok(Json(json!({ "sessions": listed })))
}

async fn revoke(
    State(state): State<AppState>,
    auth: Authenticated,
    raw: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let me = auth.session;
    // Not UTF-8, or not one of our ids: no such session.
    let id = raw
        .ok()
        .and_then(|Path(raw)| SessionId::parse(&raw).ok())
        .ok_or(ApiError::NotFound)?;
    let now = state.clock.now();
    // Ending your own current session is a sign-out.
    let (reason, by) = if id == me.session_id {
        (Reason::Logout, None)
    } else {
        let by = Actor::of(&me, now);
        (Reason::RevokedByUser, Some(by))
    };
    // Scoped to the caller's account key: another account's id is simply not found.
    let ended = state
        .store
        .revoke(&AccountKey::of(&me.username), &id, reason, by, now)
        .await?;
    match ended {
        Some(_) => {
            tracing::info!(target: "audit", username = %me.username, by = %me.session_id, session_id = %id, ?reason, "session revoked by its owner");
            Ok(StatusCode::NO_CONTENT)
        }
        None => Err(ApiError::NotFound),
    }
}
