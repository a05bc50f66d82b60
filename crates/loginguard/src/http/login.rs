//! Sign-in and sign-out: `POST /api/auth/login`, `POST /api/auth/logout`,
//! and `POST /api/auth/login/evict` (an `ask` refusal's eviction ticket).
//!
//! In cookie mode sign-in also sets the cookie (unless the request comes
//! from a page whose origin we do not trust: a foreign page must not sign a
//! browser into someone else's account) and sign-out clears it.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::cookie::{set_cookie, CookieRule, SetCookie};
use serde::Deserialize;
use utoipa::ToSchema;

use super::extract::{ApiJson, Authenticated, LoginBody, LoginFields, Meta};
use super::responses::{
    Always, BadRequest, BadTicket, Forbidden, InvalidCredentials, LimitReached, NoSession,
    NotFound, RateLimited, StoreUnavailable, UnsupportedMediaType,
};
use super::state::{AppState, OriginRule};
use super::views::SignInView;
use super::ApiError;
use crate::app::{SessionService, SignInService, SignedIn};
use crate::domain::{EvictionTicket, SessionId};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(evict))
        .routes(routes!(logout))
}

/// Sign in with a user name and password. The new session's token is in
/// the answer (and, in cookie mode, in the cookie); the sessions it pushed
/// out are listed.
#[utoipa::path(
    post,
    path = "/api/auth/login",
    operation_id = "sign_in",
    tag = "auth",
    request_body(content(
        (LoginFields = "application/json"),
        (LoginFields = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, body = SignInView, description = "Signed in",
            headers(("Set-Cookie" = String, description = "In cookie mode: the session's cookie"))),
        BadRequest, InvalidCredentials, LimitReached, UnsupportedMediaType, RateLimited,
        StoreUnavailable, Always,
    ),
)]
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
    set_cookie(cookie)
}

/// The body of `POST /api/auth/login/evict` (`EvictRequest` in the
/// OpenAPI document).
#[derive(Deserialize, ToSchema)]
#[schema(as = EvictRequest)]
struct EvictFields {
    /// The `eviction_ticket` of the `ask` refusal (409).
    ticket: String,
    /// One of the sessions that refusal offered in `active_sessions`.
    #[schema(example = "s_2b9f0c1e4a6d8b3f5e7a9c1d3b5f7a9e")]
    session_id: String,
}

/// Under `on_limit = ask`, sign the chosen one of the offered sessions out
/// (reason `duplicate_login`) and the refused device in, in one step. The
/// answer is a sign-in's; the ticket works once, on any instance, for 120 s.
#[utoipa::path(
    post,
    path = "/api/auth/login/evict",
    operation_id = "sign_in_by_eviction",
    tag = "auth",
    request_body(content((EvictFields = "application/json"))),
    responses(
        (status = 200, body = SignInView, description = "Signed in; the chosen session is signed out",
            headers(("Set-Cookie" = String, description = "In cookie mode: the session's cookie"))),
        BadTicket, InvalidCredentials, NotFound, LimitReached, UnsupportedMediaType,
        StoreUnavailable, Always,
    ),
)]
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

/// Sign out: ends the caller's session (reason `logout`); its sockets are
/// told.
#[utoipa::path(
    post,
    path = "/api/auth/logout",
    operation_id = "sign_out",
    tag = "auth",
    security(("session_token" = [])),
    responses(
        (status = 204, description = "Signed out",
            headers(("Set-Cookie" = String, description = "In cookie mode: clears the cookie"))),
        NoSession, Forbidden, StoreUnavailable, Always,
    ),
)]
async fn logout(
    State(sessions): State<Arc<SessionService>>,
    State(cookies): State<CookieRule>,
    Authenticated(me): Authenticated,
) -> Result<(SetCookie, StatusCode), ApiError> {
    sessions.sign_out(&me).await?;
    Ok((set_cookie(cookies.clear()), StatusCode::NO_CONTENT))
}
