//! Sign-in and sign-out: `POST /api/auth/login`, `POST /api/auth/logout`,
//! and `POST /api/auth/login/evict` (an `ask` refusal's eviction ticket).
//!
//! In cookie mode sign-in also sets the cookie (unless the request comes
//! from a page whose origin we do not trust: a foreign page must not sign a
//! browser into someone else's account) and sign-out clears it.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::AppendHeaders;
use axum::routing::post;
use axum::{Json, Router};

use super::cookie::CookieRule;
use serde::Deserialize;

use super::extract::{ApiJson, Authenticated, LoginBody, Meta};
use super::state::{AppState, OriginRule};
use super::views::SignInView;
use super::ApiError;
use crate::app::{SessionService, SignInService, SignedIn};
use crate::domain::{EvictionTicket, SessionId};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/login", post(login))
        .route("/api/auth/login/evict", post(evict))
        .route("/api/auth/logout", post(logout))
}

/// A `Set-Cookie` header, when there is one to send.
type SetCookie = AppendHeaders<Option<(header::HeaderName, header::HeaderValue)>>;

async fn login(
    State(service): State<Arc<SignInService>>,
    State(cookies): State<CookieRule>,
    State(origins): State<OriginRule>,
    headers: HeaderMap,
    Meta(meta): Meta,
    LoginBody(creds): LoginBody,
) -> Result<(SetCookie, Json<SignInView>), ApiError> {
    let signed = service.sign_in(creds, meta).await?;
    Ok((
        signed_in_cookie(&cookies, &origins, &headers, &signed),
        Json(signed.into()),
    ))
}

/// In cookie mode, the cookie of a new session, unless the request comes
/// from a page whose origin we do not trust.
fn signed_in_cookie(
    cookies: &CookieRule,
    origins: &OriginRule,
    headers: &HeaderMap,
    signed: &SignedIn,
) -> SetCookie {
    let cookie = match cookies.origin_trusted(headers, origins) {
        Some(false) => None,
        Some(true) | None => {
            let life = signed.session.expires_at.since(signed.session.created_at);
            cookies.set(&signed.token, std::time::Duration::from_millis(life))
        }
    };
    AppendHeaders(cookie.map(|v| (header::SET_COOKIE, v)))
}

#[derive(Deserialize)]
struct EvictFields {
    ticket: String,
    session_id: String,
}

/// The sign-in 200 for the waiting device, or 400 `invalid_ticket`, 404
/// (an id the ticket did not offer, or not an id), 409 (no room any more).
async fn evict(
    State(service): State<Arc<SignInService>>,
    State(cookies): State<CookieRule>,
    State(origins): State<OriginRule>,
    headers: HeaderMap,
    ApiJson(fields): ApiJson<EvictFields>,
) -> Result<(SetCookie, Json<SignInView>), ApiError> {
    let ticket = EvictionTicket::parse(&fields.ticket).map_err(|_| ApiError::InvalidTicket)?;
    let chosen = SessionId::parse(&fields.session_id).map_err(|_| ApiError::NotFound)?;
    let signed = service.evict(&ticket, chosen).await?;
    Ok((
        signed_in_cookie(&cookies, &origins, &headers, &signed),
        Json(signed.into()),
    ))
}

async fn logout(
    State(sessions): State<Arc<SessionService>>,
    State(cookies): State<CookieRule>,
    Authenticated(me): Authenticated,
) -> Result<(SetCookie, StatusCode), ApiError> {
    sessions.sign_out(&me).await?;
    let clear = AppendHeaders(cookies.clear().map(|v| (header::SET_COOKIE, v)));
    Ok((clear, StatusCode::NO_CONTENT))
}
