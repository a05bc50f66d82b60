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
use axum::routing::{delete, get, post};
use axum::{Json, Router};

use super::extract::SessionIdPath;
use super::state::AppState;
use super::trusted::{IntrospectRequest, IntrospectScope, SessionRequest, SessionsScope, Trusted};
use super::views::{IntrospectionView, OwnSessionsView, RevokedCountView, SignInView};
use super::ApiError;
use crate::app::BackendService;
use crate::domain::Username;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/sessions", post(create))
        .route("/api/v1/sessions/{session_id}", delete(revoke))
        .route(
            "/api/v1/subjects/{subject}/sessions",
            get(list).delete(revoke_subject),
        )
        .route("/api/v1/introspect", post(introspect))
}

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

async fn list(
    State(backend): State<Arc<BackendService>>,
    _key: Trusted<SessionsScope>,
    raw: Result<Path<String>, PathRejection>,
) -> Result<Json<OwnSessionsView>, ApiError> {
    Ok(Json(backend.list(&subject(raw)?).await?.into()))
}

async fn revoke_subject(
    State(backend): State<Arc<BackendService>>,
    caller: Trusted<SessionsScope>,
    raw: Result<Path<String>, PathRejection>,
) -> Result<Json<RevokedCountView>, ApiError> {
    let revoked = backend.revoke_subject(&caller.key, &subject(raw)?).await?;
    Ok(Json(RevokedCountView { revoked }))
}

async fn revoke(
    State(backend): State<Arc<BackendService>>,
    caller: Trusted<SessionsScope>,
    SessionIdPath(id): SessionIdPath,
) -> Result<StatusCode, ApiError> {
    backend.revoke_session(&caller.key, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn introspect(
    State(backend): State<Arc<BackendService>>,
    _key: Trusted<IntrospectScope>,
    IntrospectRequest(token): IntrospectRequest,
) -> Result<Response, ApiError> {
    let session = backend.introspect(&token).await?;
    Ok(Json(IntrospectionView::of(session.as_ref())).into_response())
}
