//! Sign-in and sign-out: `POST /api/auth/login`, `POST /api/auth/logout`.
//!
//! In cookie mode sign-in also sets the cookie (unless the request comes
//! from a page whose origin we do not trust: a foreign page must not sign a
//! browser into someone else's account) and sign-out clears it.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::AppendHeaders;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::cookie::CookieRule;
use super::extract::{Authenticated, LoginBody, LoginFields, Meta};
use super::responses::{
    Always, BadRequest, Forbidden, InvalidCredentials, LimitReached, NoSession, RateLimited,
    StoreUnavailable, UnsupportedMediaType,
};
use super::state::{AppState, OriginRule};
use super::views::SignInView;
use super::ApiError;
use crate::app::{SessionService, SignInService};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
}

/// A `Set-Cookie` header, when there is one to send.
type SetCookie = AppendHeaders<Option<(header::HeaderName, header::HeaderValue)>>;

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
    let cookie = match cookies.origin_trusted(&headers, &origins) {
        Some(false) => None,
        Some(true) | None => {
            let life = signed.session.expires_at.since(signed.session.created_at);
            cookies.set(&signed.token, std::time::Duration::from_millis(life))
        }
    };
    let set_cookie = AppendHeaders(cookie.map(|v| (header::SET_COOKIE, v)));
    Ok((set_cookie, Json(signed.into())))
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
    let clear = AppendHeaders(cookies.clear().map(|v| (header::SET_COOKIE, v)));
    Ok((clear, StatusCode::NO_CONTENT))
}
