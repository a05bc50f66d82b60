//! Administration: `GET /api/admin/sessions` (every live session, a page at
//! a time), `DELETE /api/admin/sessions?confirm=all` (sign everyone out),
//! `DELETE /api/admin/users/{username}/sessions` and `GET /api/admin/audit`
//! (the audit trail, a page at a time).

use std::sync::Arc;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::Admin;
use super::responses::{Always, BadRequest, Forbidden, NoSession, StoreUnavailable, Unconfirmed};
use super::state::AppState;
use super::views::{AdminPageView, AuditPageView, RevokedCountView};
use super::ApiError;
use crate::app::{audit_query, AdminService, PageRequest};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, revoke_all))
        .routes(routes!(revoke_user))
        .routes(routes!(audit))
}

/// Read as text and parsed by `PageRequest`, so a bad value is its 400.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PageQuery {
    /// `next_cursor` of the page before.
    cursor: Option<String>,
    /// Sessions per page.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000, default = 100)]
    limit: Option<String>,
}

/// Every live session, a page at a time (possibly from a cache at most 5 s
/// old: `generated_at` tells).
#[utoipa::path(
    get,
    path = "/api/admin/sessions",
    operation_id = "admin_list_sessions",
    tag = "admin",
    security(("session_token" = [])),
    params(PageQuery),
    responses(
        (status = 200, body = AdminPageView, description = "One page of sessions"),
        BadRequest, NoSession, Forbidden, StoreUnavailable, Always,
    ),
)]
async fn list(
    State(admin): State<Arc<AdminService>>,
    _caller: Admin,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<AdminPageView>, ApiError> {
    let Query(q) = query.map_err(|r| ApiError::BadRequest(r.body_text()))?;
    let request = PageRequest::parse(q.cursor.as_deref(), q.limit.as_deref())?;
    Ok(Json(admin.page(request).await?.into()))
}

/// The confirmation signing everyone out needs.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ConfirmQuery {
    /// Must be `all`.
    #[param(value_type = String, required = true, pattern = "^all$", example = "all")]
    confirm: Option<String>,
}

/// Signs everyone out (incident response): every live session ends with
/// reason `revoked_by_admin`, yours included, and every connected socket is
/// told. Done one account at a time, so the store is never held for long;
/// sessions created after the call started stay.
#[utoipa::path(
    delete,
    path = "/api/admin/sessions",
    operation_id = "admin_revoke_all",
    tag = "admin",
    security(("session_token" = [])),
    params(ConfirmQuery),
    responses(
        (status = 200, body = RevokedCountView, description = "How many sessions ended"),
        Unconfirmed, NoSession, Forbidden, StoreUnavailable, Always,
    ),
)]
async fn revoke_all(
    State(admin): State<Arc<AdminService>>,
    Admin(caller): Admin,
    query: Result<Query<ConfirmQuery>, QueryRejection>,
) -> Result<Json<RevokedCountView>, ApiError> {
    let Query(q) = query.map_err(|r| ApiError::BadRequest(r.body_text()))?;
    if q.confirm.as_deref() != Some("all") {
        return Err(ApiError::ConfirmationRequired);
    }
    let revoked = admin.revoke_all(&caller).await?;
    Ok(Json(RevokedCountView { revoked }))
}

/// Read as text and parsed by `audit_query`, so a bad value is its 400.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditParams {
    /// `next_cursor` of the page before (an entry id).
    cursor: Option<String>,
    /// Entries per page.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000, default = 100)]
    limit: Option<String>,
    /// Only this account's entries.
    username: Option<String>,
}

/// The audit trail, newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/api/admin/audit",
    operation_id = "admin_audit",
    tag = "admin",
    security(("session_token" = [])),
    params(AuditParams),
    responses(
        (status = 200, body = AuditPageView, description = "One page of audit entries"),
        BadRequest, NoSession, Forbidden, StoreUnavailable, Always,
    ),
)]
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

/// Signs an account out everywhere (reason `revoked_by_admin`); an unknown
/// account gives `{"revoked": 0}`.
#[utoipa::path(
    delete,
    path = "/api/admin/users/{username}/sessions",
    operation_id = "admin_revoke_account",
    tag = "admin",
    security(("session_token" = [])),
    params(("username" = String, Path, description = "The account")),
    responses(
        (status = 200, body = RevokedCountView, description = "How many sessions ended"),
        NoSession, Forbidden, StoreUnavailable, Always,
    ),
)]
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
