//! Sign-in and sign-out: `POST /api/auth/login`, `POST /api/auth/logout`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};

use super::extract::{Authenticated, LoginBody, Meta};
use super::state::AppState;
use super::views::SignInView;
use super::ApiError;
use crate::app::{SessionService, SignInService};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/login", post(login))
        .route("/api/auth/logout", post(logout))
}

async fn login(
    State(service): State<Arc<SignInService>>,
    Meta(meta): Meta,
    LoginBody(creds): LoginBody,
) -> Result<Json<SignInView>, ApiError> {
    let signed = service.sign_in(creds, meta).await?;
    Ok(Json(signed.into()))
}

async fn logout(
    State(sessions): State<Arc<SessionService>>,
    Authenticated(me): Authenticated,
) -> Result<StatusCode, ApiError> {
    sessions.sign_out(&me).await?;
    Ok(StatusCode::NO_CONTENT)
}
