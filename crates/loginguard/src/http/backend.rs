//! The trusted-backend API, `/api/v1`: create a session for a subject, list
//! and end a subject's sessions, end one session by id, and RFC 7662
//! introspection.
//!
//! Each route names the scope its API key needs in its `Trusted<_>`
//! extractor; the rest is `app::BackendService`.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::SessionIdPath;
use super::responses::{
    Always, BadRequest, Forbidden, LimitReached, NoApiKey, NotFound, StoreUnavailable,
    UnsupportedMediaType,
};
use super::state::AppState;
use super::trusted::{
    IntrospectRequest, IntrospectScope, SessionFields, SessionRequest, SessionsScope, TokenField,
    Trusted,
};
use super::views::{IntrospectionView, OwnSessionsView, RevokedCountView, SignInView};
use super::ApiError;
use crate::app::BackendService;
use crate::domain::{SessionId, Username};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(revoke))
        .routes(routes!(list, revoke_subject))
        .routes(routes!(introspect))
}

/// Creates a session for a subject the backend has signed in itself: the
/// same policy step, pushes and audit as a password sign-in.
#[utoipa::path(
    post,
    path = "/api/v1/sessions",
    operation_id = "backend_create_session",
    tag = "backend",
    security(("api_key" = ["sessions"])),
    request_body(content((SessionFields = "application/json"))),
    responses(
        (status = 201, body = SignInView, description = "Created; `user` is `{\"username\": subject}`"),
        BadRequest, NoApiKey, Forbidden, LimitReached, UnsupportedMediaType, StoreUnavailable,
        Always,
    ),
)]
async fn create(
    State(backend): State<Arc<BackendService>>,
    caller: Trusted<SessionsScope>,
    SessionRequest(req): SessionRequest,
) -> Result<(StatusCode, Json<SignInView>), ApiError> {
    let signed = backend.create(&caller.key, req).await?;
    Ok((StatusCode::CREATED, Json(signed.into())))
}

/// The `{subject}` of a path: a user name, or 400.
fn subject(raw: Result<Path<String>, PathRejection>) -> Result<Username, ApiError> {
    let Path(raw) = raw.map_err(|r| ApiError::BadRequest(r.body_text()))?;
    Username::parse(&raw).map_err(|e| ApiError::BadRequest(format!("subject: {e}")))
}

/// A subject's live sessions (none is `current`).
#[utoipa::path(
    get,
    path = "/api/v1/subjects/{subject}/sessions",
    operation_id = "backend_list_subject_sessions",
    tag = "backend",
    security(("api_key" = ["sessions"])),
    params(("subject" = String, Path, description = "A user name")),
    responses(
        (status = 200, body = OwnSessionsView, description = "The subject's sessions"),
        BadRequest, NoApiKey, Forbidden, StoreUnavailable, Always,
    ),
)]
async fn list(
    State(backend): State<Arc<BackendService>>,
    _key: Trusted<SessionsScope>,
    raw: Result<Path<String>, PathRejection>,
) -> Result<Json<OwnSessionsView>, ApiError> {
    Ok(Json(backend.list(&subject(raw)?).await?.into()))
}

/// Ends every session of a subject (reason `revoked_by_app`).
#[utoipa::path(
    delete,
    path = "/api/v1/subjects/{subject}/sessions",
    operation_id = "backend_revoke_subject",
    tag = "backend",
    security(("api_key" = ["sessions"])),
    params(("subject" = String, Path, description = "A user name")),
    responses(
        (status = 200, body = RevokedCountView, description = "How many sessions ended"),
        BadRequest, NoApiKey, Forbidden, StoreUnavailable, Always,
    ),
)]
async fn revoke_subject(
    State(backend): State<Arc<BackendService>>,
    caller: Trusted<SessionsScope>,
    raw: Result<Path<String>, PathRejection>,
) -> Result<Json<RevokedCountView>, ApiError> {
    let revoked = backend.revoke_subject(&caller.key, &subject(raw)?).await?;
    Ok(Json(RevokedCountView { revoked }))
}

/// Ends one session by its id (reason `revoked_by_app`).
#[utoipa::path(
    delete,
    path = "/api/v1/sessions/{session_id}",
    operation_id = "backend_revoke_session",
    tag = "backend",
    security(("api_key" = ["sessions"])),
    params(("session_id" = SessionId, Path, description = "A live session")),
    responses(
        (status = 204, description = "Ended"),
        NoApiKey, Forbidden, NotFound, StoreUnavailable, Always,
    ),
)]
async fn revoke(
    State(backend): State<Arc<BackendService>>,
    caller: Trusted<SessionsScope>,
    SessionIdPath(id): SessionIdPath,
) -> Result<StatusCode, ApiError> {
    backend.revoke_session(&caller.key, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// RFC 7662 introspection: whether a session token works now. Counts as a
/// use of the session.
#[utoipa::path(
    post,
    path = "/api/v1/introspect",
    operation_id = "introspect",
    tag = "backend",
    security(("api_key" = ["introspect"])),
    request_body(content(
        (TokenField = "application/x-www-form-urlencoded"),
        (TokenField = "application/json"),
    )),
    responses(
        (status = 200, body = IntrospectionView, description = "`{\"active\": false}` exactly, or the live session's particulars"),
        BadRequest, NoApiKey, Forbidden, UnsupportedMediaType, StoreUnavailable, Always,
    ),
)]
async fn introspect(
    State(backend): State<Arc<BackendService>>,
    _key: Trusted<IntrospectScope>,
    IntrospectRequest(token): IntrospectRequest,
) -> Result<Response, ApiError> {
    let session = backend.introspect(&token).await?;
    Ok(Json(IntrospectionView::of(session.as_ref())).into_response())
}
