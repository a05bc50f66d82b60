//! The caller's own sessions: `GET /api/auth/session`, `GET /api/auth/sessions`,
//! `DELETE /api/auth/sessions/{session_id}`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::cookie::{set_cookie, CookieRule, SetCookie};
use super::extract::{Authenticated, SessionIdPath};
use super::responses::{Always, Forbidden, NoSession, NotFound, StoreUnavailable};
use super::state::AppState;
use super::views::{OwnSessionsView, SessionView};
use super::ApiError;
use crate::app::SessionService;
use crate::domain::SessionId;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(current))
        .routes(routes!(list))
        .routes(routes!(revoke))
}

/// The caller's session.
#[utoipa::path(
    get,
    path = "/api/auth/session",
    operation_id = "current_session",
    tag = "sessions",
    security(("session_token" = [])),
    responses(
        (status = 200, body = SessionView, description = "The caller's session"),
        NoSession, StoreUnavailable, Always,
    ),
)]
async fn current(
    State(sessions): State<Arc<SessionService>>,
    Authenticated(me): Authenticated,
) -> Json<SessionView> {
    Json(SessionView::from(&sessions.current(me)))
}

/// Every live session of the caller's account.
#[utoipa::path(
    get,
    path = "/api/auth/sessions",
    operation_id = "list_own_sessions",
    tag = "sessions",
    security(("session_token" = [])),
    responses(
        (status = 200, body = OwnSessionsView, description = "The account's sessions"),
        NoSession, StoreUnavailable, Always,
    ),
)]
async fn list(
    State(sessions): State<Arc<SessionService>>,
    Authenticated(me): Authenticated,
) -> Result<Json<OwnSessionsView>, ApiError> {
    Ok(Json(sessions.list_own(&me).await?.into()))
}

/// Ends one of the caller's own sessions (reason `revoked_by_user`); the
/// caller's own id works like logout, and in cookie mode clears the cookie
/// as logout does.
#[utoipa::path(
    delete,
    path = "/api/auth/sessions/{session_id}",
    operation_id = "revoke_own_session",
    tag = "sessions",
    security(("session_token" = [])),
    params(("session_id" = SessionId, Path, description = "One of the account's live sessions")),
    responses(
        (status = 204, description = "Signed out",
            headers(("Set-Cookie" = String, description = "In cookie mode, for the caller's own session: clears the cookie"))),
        NoSession, Forbidden, NotFound, StoreUnavailable, Always,
    ),
)]
async fn revoke(
    State(sessions): State<Arc<SessionService>>,
    State(cookies): State<CookieRule>,
    Authenticated(me): Authenticated,
    SessionIdPath(id): SessionIdPath,
) -> Result<(SetCookie, StatusCode), ApiError> {
    sessions.revoke_own(&me, &id).await?;
    // The browser would otherwise keep sending a cookie that no longer works.
    let clear = (id == me.session_id).then(|| cookies.clear()).flatten();
    Ok((set_cookie(clear), StatusCode::NO_CONTENT))
}
