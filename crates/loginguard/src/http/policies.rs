//! Runtime policy overrides: `GET|PUT|DELETE /api/admin/users/{username}/policy`
//! (administrators only).
//!
//! Thin: the path and body are parsed here (`PolicyOverride` and its caps),
//! the rest is `app::PolicyService`. The override takes effect through the
//! store's sign-in step, not here.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Admin, ApiJson};
use super::responses::{
    Always, BadRequest, Forbidden, NoSession, StoreUnavailable, UnsupportedMediaType,
};
use super::state::AppState;
use super::views::AccountPolicyView;
use super::ApiError;
use crate::app::PolicyService;
use crate::domain::PolicyOverride;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(show, set, remove))
}

/// The `{username}` of the path as text (the use case parses it).
fn username(raw: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    raw.map(|Path(raw)| raw)
        .map_err(|r| ApiError::BadRequest(r.body_text()))
}

/// An account's runtime policy override (`override`, null without one) and
/// the policy its next sign-in gets (`effective`: override > users file >
/// flags). Any valid user name has one, in the users file or not (a
/// trusted backend's subjects are in none).
#[utoipa::path(
    get,
    path = "/api/admin/users/{username}/policy",
    operation_id = "admin_get_policy",
    tag = "admin",
    security(("session_token" = [])),
    params(("username" = String, Path, description = "The account")),
    responses(
        (status = 200, body = AccountPolicyView, description = "The override and the effective policy"),
        BadRequest, NoSession, Forbidden, StoreUnavailable, Always,
    ),
)]
async fn show(
    State(policies): State<Arc<PolicyService>>,
    _caller: Admin,
    raw: Result<Path<String>, PathRejection>,
) -> Result<Json<AccountPolicyView>, ApiError> {
    let raw = username(raw)?;
    Ok(Json(policies.show(&raw).await?.into()))
}

/// Stores the body as the account's whole override: the fields it leaves
/// out follow the users file and flags again (it does not merge with an
/// earlier override). Every instance uses it from the next sign-in on;
/// live sessions are not touched.
#[utoipa::path(
    put,
    path = "/api/admin/users/{username}/policy",
    operation_id = "admin_set_policy",
    tag = "admin",
    security(("session_token" = [])),
    params(("username" = String, Path, description = "The account")),
    request_body(content((PolicyOverride = "application/json"))),
    responses(
        (status = 200, body = AccountPolicyView, description = "Stored; the override and the effective policy"),
        BadRequest, NoSession, Forbidden, UnsupportedMediaType, StoreUnavailable, Always,
    ),
)]
async fn set(
    State(policies): State<Arc<PolicyService>>,
    Admin(caller): Admin,
    raw: Result<Path<String>, PathRejection>,
    ApiJson(body): ApiJson<PolicyOverride>,
) -> Result<Json<AccountPolicyView>, ApiError> {
    let raw = username(raw)?;
    let value = body
        .checked()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok(Json(policies.set(&caller, &raw, value).await?.into()))
}

/// Removes the account's override (204 whether or not it had one): the next
/// sign-in follows the users file and flags again.
#[utoipa::path(
    delete,
    path = "/api/admin/users/{username}/policy",
    operation_id = "admin_remove_policy",
    tag = "admin",
    security(("session_token" = [])),
    params(("username" = String, Path, description = "The account")),
    responses(
        (status = 204, description = "No override now"),
        BadRequest, NoSession, Forbidden, StoreUnavailable, Always,
    ),
)]
async fn remove(
    State(policies): State<Arc<PolicyService>>,
    Admin(caller): Admin,
    raw: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let raw = username(raw)?;
    policies.remove(&caller, &raw).await?;
    Ok(StatusCode::NO_CONTENT)
}
