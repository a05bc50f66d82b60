//! Sign-in and sign-out: `POST /api/auth/login`, `POST /api/auth/logout`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::extract::{Authenticated, LoginBody, Meta};
use super::views::{RevokedView, UserView};
use super::ApiError;
use crate::auth::AuthError;
use crate::domain::{AccountKey, Reason};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/login", post(login))
        .route("/api/auth/logout", post(logout))
}

async fn login(
    State(state): State<AppState>,
    Meta(meta): Meta,
    LoginBody(creds): LoginBody,
) -> Result<Json<Value>, ApiError> {
    let result = state.auth.sign_in(creds, meta).await;
    state.metrics.sign_in(sign_in_label(&result));
    let signed = result?;
    let revoked: Vec<RevokedView> = signed
        .revoked
        .iter()
        .map(|s| RevokedView {
            session_id: s.session_id.clone(),
            device: s.device.as_str().to_owned(),
        })
        .collect();
    Ok(Json(json!({
        "session_id": signed.session.session_id,
        "token": signed.token.expose(),
        "token_type": "Bearer",
        "user": UserView::of(&signed.session, Some(&signed.user)),
        "created_at": signed.session.created_at.to_rfc3339(),
        "expires_at": signed.session.expires_at.to_rfc3339(),
        "revoked_sessions": revoked,
    })))
}

async fn logout(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<StatusCode, ApiError> {
    let s = auth.session;
    state
        .store
        .revoke(
            &AccountKey::of(&s.username),
            &s.session_id,
            Reason::Logout,
            None,
            state.clock.now(),
        )
        .await?;
    tracing::info!(target: "audit", username = %s.username, session_id = %s.session_id, "signed out");
    Ok(StatusCode::NO_CONTENT)
}

/// The `result` label of the sign-in counter.
fn sign_in_label<T>(result: &Result<T, AuthError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(AuthError::InvalidCredentials) => "invalid_credentials",
        Err(AuthError::RateLimited { .. }) => "rate_limited",
        Err(AuthError::Busy) => "busy",
        Err(AuthError::SessionLimitReached { .. }) => "session_limit_reached",
        Err(AuthError::Store(_)) => "store_error",
        Err(AuthError::Hashing(_)) => "error",
    }
}
