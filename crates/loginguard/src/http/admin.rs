//! Administration: `GET /api/admin/sessions` (every live session, a page at
//! a time), `DELETE /api/admin/users/{username}/sessions` and
//! `GET /api/admin/audit` (the audit trail, a page at a time).

use std::sync::Arc;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;

use super::extract::Admin;
use super::state::AppState;
use super::views::{AdminPageView, AuditPageView, RevokedCountView};
use super::ApiError;
use crate::app::{audit_query, AdminService, PageRequest};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/admin/sessions", get(list))
        .route("/api/admin/users/{username}/sessions", delete(revoke_user))
        .route("/api/admin/audit", get(audit))
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

#[derive(Deserialize)]
struct AuditParams {
    cursor: Option<String>,
    limit: Option<String>,
    username: Option<String>,
}

async fn audit(
    State(admin): State<Arc<AdminService>>,
    _caller: Admin,
    query: Result<Query<AuditParams>, QueryRejection>,
) -> Result<Json<AuditPageView>, ApiError> {
    let Query(q) = query.map_err(|r| ApiError::BadRequest(r.body_text()))?;
    let query = audit_query(
        q.cursor.as_deref(),
        q.limit.as_deref(),
        q.username.as_deref(),
    )?;
    Ok(Json(admin.audit(&query).await?.into()))
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
