//! `GET /api/auth/verify`: the yes or no of a reverse proxy's sub-request
//! (nginx `auth_request`, Traefik ForwardAuth, Caddy `forward_auth`).
//!
//! 200 with `X-Loginguard-User` and `X-Loginguard-Session` and an empty
//! body, or the 401 JSON error of any authenticated endpoint. The token
//! comes from the bearer header or, in cookie mode, the cookie; like every
//! authenticated request it counts as a use of the session (one store call).

use axum::http::{HeaderName, HeaderValue, StatusCode};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::Authenticated;
use super::responses::{Always, NoSession, StoreUnavailable};
use super::state::AppState;

pub const USER_HEADER: HeaderName = HeaderName::from_static("x-loginguard-user");
pub const SESSION_HEADER: HeaderName = HeaderName::from_static("x-loginguard-session");

/// Everything but RFC 3986's unreserved characters is percent-encoded, so a
/// user name of any script fits a header and `user1` stays `user1`.
const ENCODED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(verify))
}

/// A reverse proxy's question: does this request's session work? Counts as
/// a use of the session.
#[utoipa::path(
    get,
    path = "/api/auth/verify",
    operation_id = "verify",
    tag = "proxy",
    security(("session_token" = [])),
    responses(
        (status = 200, description = "It works; empty body", headers(
            ("X-Loginguard-User" = String, description = "The user name, percent-encoded"),
            ("X-Loginguard-Session" = String, description = "The session id"),
        )),
        NoSession, StoreUnavailable, Always,
    ),
)]
async fn verify(Authenticated(me): Authenticated) -> (StatusCode, [(HeaderName, HeaderValue); 2]) {
    let user = utf8_percent_encode(me.username.as_str(), ENCODED).to_string();
    // Percent-encoded text and `s_<hex>` are plain ASCII: always valid values.
    let value = |s: &str| HeaderValue::from_str(s).expect("ASCII header value");
    (
        StatusCode::OK,
        [
            (USER_HEADER, value(&user)),
            (SESSION_HEADER, value(me.session_id.as_str())),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_are_percent_encoded_for_the_header() {
        let enc = |s: &str| utf8_percent_encode(s, ENCODED).to_string();
        assert_eq!(enc("user1"), "user1");
        assert_eq!(enc("a.b_c-d~e"), "a.b_c-d~e");
        assert_eq!(enc("a b%"), "a%20b%25");
        assert_eq!(enc("사용자"), "%EC%82%AC%EC%9A%A9%EC%9E%90");
    }
}
