//! The caller's own sessions: `GET /api/auth/session`, `GET /api/auth/sessions`,
//! `DELETE /api/auth/sessions/{session_id}`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};

use super::extract::{Authenticated, SessionIdPath};
use super::state::AppState;
use super::views::{OwnSessionsView, SessionView};
use super::ApiError;
use crate::app::SessionService;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/session", get(current))
        .route("/api/auth/sessions", get(list))
        .route("/api/auth/sessions/{session_id}", delete(revoke))
}

async fn current(
    State(sessions): State<Arc<SessionService>>,
    Authenticated(me): Authenticated,
) -> Json<SessionView> {
    Json(SessionView::from(&sessions.current(me)))
}

async fn list(
    State(sessions): State<Arc<SessionService>>,
    Authenticated(me): Authenticated,
) -> Result<Json<OwnSessionsView>, ApiError> {
    Ok(Json(sessions.list_own(&me).await?.into()))
}

async fn revoke(
    State(sessions): State<Arc<SessionService>>,
    Authenticated(me): Authenticated,
    SessionIdPath(id): SessionIdPath,
) -> Result<StatusCode, ApiError> {
    sessions.revoke_own(&me, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
