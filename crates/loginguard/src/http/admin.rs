//! Administration: `GET /api/admin/sessions` (every live session, a page at
//! a time) and `DELETE /api/admin/users/{username}/sessions`.

use std::sync::Arc;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;

use super::extract::Admin;
use super::state::AppState;
use super::views::{AdminPageView, RevokedCountView};
use super::ApiError;
use crate::app::{AdminService, PageRequest};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/admin/sessions", get(list))
        .route("/api/admin/users/{username}/sessions", delete(revoke_user))
}

#[derive(Deserialize)]
struct PageQuery {
    cursor: Option<String>,
    limit: Option<String>,
}

async fn list(
    State(admin): State<Arc<AdminService>>,
    _caller: Admin,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<AdminPageView>, ApiError> {
    let Query(q) = query.map_err(|r| ApiError::BadRequest(r.body_text()))?;
    let request = PageRequest::parse(q.cursor.as_deref(), q.limit.as_deref())?;
    Ok(Json(admin.page(request).await?.into()))
}

async fn revoke_user(
    State(admin): State<Arc<AdminService>>,
    Admin(caller): Admin,
    raw: Result<Path<String>, PathRejection>,
) -> Result<Json<RevokedCountView>, ApiError> {
    // A name that is not even UTF-8 has no sessions, like an unknown one.
    let raw = raw.map(|Path(raw)| raw).unwrap_or_default();
    let revoked = admin.revoke_account(&caller, &raw).await?;
    Ok(Json(RevokedCountView { revoked }))
}
