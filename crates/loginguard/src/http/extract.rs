//! Extractors: where raw HTTP becomes parsed, trusted values.
//!
//! `ApiJson` (every JSON body), `LoginBody` (JSON or form, parsed into
//! `Credentials`, optional device class, device id and device token
//! included), `Meta` (client IP and User-Agent), `Authenticated` (bearer
//! token, or in cookie mode the cookie -> live session, or the exact 401,
//! through `app::SessionService`),
//! `Admin` and `SessionIdPath`. Every failure is an `ApiError`, so handlers
//! never see malformed input.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use utoipa::ToSchema;

use std::sync::Arc;

use axum::extract::FromRef;

use super::cookie::CookieRule;
use super::form::{bad_form, form_fields, FromForm, JsonOrForm};
use super::forwarded::last_forwarded_for;
use super::state::{ClientIpRule, OriginRule};
use super::ApiError;
use crate::app::{ClientMeta, Credentials, SessionService};
use crate::domain::json;
use crate::domain::{
    ClientDeviceId, DeviceClass, DeviceName, DeviceToken, Session, SessionId, Token, Username,
};

/// Longest password accepted, in bytes.
const MAX_PASSWORD_BYTES: usize = 1024;

/// A sign-in body (`LoginRequest` in the OpenAPI document).
#[derive(Deserialize, ToSchema)]
#[schema(as = LoginRequest)]
pub(super) struct LoginFields {
    /// Matched exactly: no case folding, no normalisation.
    #[schema(min_length = 1, max_length = 64, example = "user1")]
    username: String,
    #[schema(min_length = 1, max_length = 1024, example = "password1")]
    password: String,
    /// Shown to the user's other devices; missing or empty: derived from
    /// the User-Agent.
    #[serde(default)]
    #[schema(max_length = 64, example = "Chrome on PC2")]
    device: Option<String>,
    /// The device's class (`web`, `mobile` or the client's own); missing or
    /// empty: derived from the User-Agent.
    #[serde(default)]
    #[schema(max_length = 32, pattern = "^[a-z0-9_-]*$", example = "web")]
    device_class: Option<String>,
    /// The client's own random label for this device: signing in again
    /// with it replaces this device's session (reason `replaced`).
    #[serde(default)]
    #[schema(max_length = 64, pattern = "^([A-Za-z0-9_-]{8,64})?$")]
    device_id: Option<String>,
    /// The `device_token` of this device's last sign-in on the account.
    #[serde(default)]
    device_token: Option<String>,
}

impl FromForm for LoginFields {
    fn from_form(body: &[u8]) -> Result<Self, ApiError> {
        let [username, password, device, device_class, device_id, device_token] = form_fields(
            body,
            [
                "username",
                "password",
                "device",
                "device_class",
                "device_id",
                "device_token",
            ],
        )?;
        Ok(LoginFields {
            username: username.ok_or_else(|| bad_form("missing username"))?,
            password: password.ok_or_else(|| bad_form("missing password"))?,
            device,
            device_class,
            device_id,
            device_token,
        })
    }
}

/// A JSON request body: every endpoint that takes JSON reads it through this
/// (never `axum::Json`), so each gets the same rules: a JSON content type
/// (415), the body limit (413) and a JSON object that decodes into `T` (400,
/// `domain::json`: an array is not an object).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !has_content_type(&req, "application/json") {
            return Err(ApiError::UnsupportedMediaType);
        }
        let body = read_body(req, state).await?;
        json::from_object(&body)
            .map(ApiJson)
            .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
    }
}

/// Whether the request's media type is `media_type` (parameters ignored).
pub(super) fn has_content_type(req: &Request, media_type: &str) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with(media_type))
}

/// The whole body, within the body limit (413 past it).
pub(super) async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state)
        .await
        .map_err(|r| ApiError::from_rejection(r.status(), r.body_text()))
}

/// A sign-in body, from JSON or `application/x-www-form-urlencoded`.
pub struct LoginBody(pub Credentials);

impl<S: Send + Sync> FromRequest<S> for LoginBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let JsonOrForm(fields) = JsonOrForm::<LoginFields>::from_request(req, state).await?;
        let username =
            Username::parse(&fields.username).map_err(|e| ApiError::BadRequest(e.to_string()))?;
        let password = fields.password;
        if password.is_empty() {
            return Err(ApiError::BadRequest("password must not be empty".into()));
        }
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(ApiError::BadRequest(
                "password must be at most 1024 bytes".into(),
            ));
        }
        if password.contains('\0') {
            return Err(ApiError::BadRequest("password must not contain NUL".into()));
        }
        let device = fields
            .device
            .map(|d| DeviceName::parse(&d))
            .transpose()
            .map_err(|e| ApiError::BadRequest(e.to_string()))?;
        // Empty is absent, as for `device`: a plain form may send a field blank.
        let device_class = fields
            .device_class
            .filter(|c| !c.is_empty())
            .map(|c| DeviceClass::parse(&c))
            .transpose()
            .map_err(|e| ApiError::BadRequest(e.to_string()))?;
        let device_id = fields
            .device_id
            .filter(|d| !d.is_empty())
            .map(|d| ClientDeviceId::parse(&d))
            .transpose()
            .map_err(|e| ApiError::BadRequest(e.to_string()))?;
        let device_token = fields
            .device_token
            .filter(|t| !t.is_empty())
            .map(|t| DeviceToken::parse(&t))
            .transpose()
            .map_err(|e| ApiError::BadRequest(e.to_string()))?;
        Ok(LoginBody(Credentials {
            username,
            password,
            device,
            device_class,
            device_id,
            device_token,
        }))
    }
}

/// The caller's IP and User-Agent.
pub struct Meta(pub ClientMeta);

impl<S> FromRequestParts<S> for Meta
where
    ClientIpRule: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .unwrap_or_else(|| "unknown".to_owned());
        let forwarded = ClientIpRule::from_ref(state)
            .trust_forwarded_for
            .then(|| {
                let lines = parts.headers.get_all("x-forwarded-for").into_iter();
                last_forwarded_for(lines.map(|v| v.as_bytes()))
            })
            .flatten()
            .map(|ip| ip.to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(Meta(ClientMeta {
            ip: forwarded.unwrap_or(peer),
            user_agent,
        }))
    }
}

/// A request with a live session behind its bearer token or, in cookie
/// mode and without a bearer header, behind its cookie.
pub struct Authenticated(pub Session);

impl<S> FromRequestParts<S> for Authenticated
where
    Arc<SessionService>: FromRef<S>,
    CookieRule: FromRef<S>,
    OriginRule: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let raw = match bearer(&parts.headers) {
            Some(raw) => raw,
            None => {
                let cookies = CookieRule::from_ref(state);
                let raw = cookies
                    .token(&parts.headers)
                    .ok_or(ApiError::Unauthorized)?;
                // A browser sends the cookie with any site's request: one
                // that changes something must come from a page we trust.
                if !parts.method.is_safe() {
                    let origins = OriginRule::from_ref(state);
                    if cookies.origin_trusted(&parts.headers, &origins) != Some(true) {
                        return Err(ApiError::Forbidden);
                    }
                }
                raw
            }
        };
        let token = Token::parse(raw).map_err(|_| ApiError::Unauthorized)?;
        let sessions = Arc::<SessionService>::from_ref(state);
        Ok(Authenticated(sessions.authenticate(&token).await?))
    }
}

/// An authenticated administrator.
pub struct Admin(pub Session);

impl<S> FromRequestParts<S> for Admin
where
    Arc<SessionService>: FromRef<S>,
    CookieRule: FromRef<S>,
    OriginRule: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Authenticated(session) = Authenticated::from_request_parts(parts, state).await?;
        let sessions = Arc::<SessionService>::from_ref(state);
        Ok(Admin(sessions.require_admin(session)?))
    }
}

/// A `{session_id}` path segment. Anything that is not one of our ids (not
/// UTF-8, malformed) is 404 `not_found`, like an id that is unknown.
pub struct SessionIdPath(pub SessionId);

impl<S: Send + Sync> FromRequestParts<S> for SessionIdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound)?;
        let id = SessionId::parse(&raw).map_err(|_| ApiError::NotFound)?;
        Ok(SessionIdPath(id))
    }
}

/// The credentials of the request's `Authorization: Bearer` header.
pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
}

/// The credentials of a `Bearer` authorization value (the scheme name is
/// case-insensitive, as in RFC 9110).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, rest) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(rest.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies_are_decoded_strictly() {
        let f = LoginFields::from_form(b"username=us%C3%A9r+1&password=p%26w&extra=1").unwrap();
        assert_eq!(
            (f.username.as_str(), f.password.as_str(), f.device),
            ("usér 1", "p&w", None)
        );
        let f = LoginFields::from_form(b"username=u&password=p&device_token=v1.a_b-c").unwrap();
        assert_eq!(f.device_token.as_deref(), Some("v1.a_b-c"));
        for bad in [
            &b"username=%FF&password=x"[..],
            b"username=a&username=b&password=x",
            b"username=a&password=x&device_token=1&device_token=2",
            b"password=x",
            b"username=a&password=\xff",
        ] {
            assert!(LoginFields::from_form(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
    }
}
