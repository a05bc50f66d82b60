//! Extractors of the trusted-backend API (`/api/v1`): the API key with the
//! scope a route needs, the body of `POST /api/v1/sessions` and the token of
//! `POST /api/v1/introspect`.
//!
//! The key is checked by `app::BackendService::authorize` before any body is
//! read, so a caller without a key learns nothing about body rules. Every
//! failure is an `ApiError`.

use std::marker::PhantomData;
use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::Deserialize;
use utoipa::ToSchema;

use super::extract::{bearer, ApiJson};
use super::form::{bad_form, form_fields, FromForm, JsonOrForm};
use super::ApiError;
use crate::app::{BackendService, ClientMeta, TrustedSignIn};
use crate::auth::{ApiKey, Scope};
use crate::domain::{ClientDeviceId, DeviceClass, DeviceName, Username};

/// The scope a route needs, as a type.
pub trait RequiredScope {
    const SCOPE: Scope;
}

/// `sessions`: create, list and end sessions.
pub struct SessionsScope;

impl RequiredScope for SessionsScope {
    const SCOPE: Scope = Scope::Sessions;
}

/// `introspect`: ask whether a token works.
pub struct IntrospectScope;

impl RequiredScope for IntrospectScope {
    const SCOPE: Scope = Scope::Introspect;
}

/// A request made with an API key that has scope `R`.
pub struct Trusted<R> {
    pub key: Arc<ApiKey>,
    scope: PhantomData<R>,
}

impl<R: RequiredScope, S> FromRequestParts<S> for Trusted<R>
where
    Arc<BackendService>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let presented = bearer(&parts.headers).ok_or(ApiError::Unauthorized)?;
        let key = Arc::<BackendService>::from_ref(state).authorize(presented, R::SCOPE)?;
        Ok(Trusted {
            key,
            scope: PhantomData,
        })
    }
}

/// The body of `POST /api/v1/sessions` (`BackendSessionRequest` in the
/// OpenAPI document).
#[derive(Deserialize, ToSchema)]
#[schema(as = BackendSessionRequest)]
pub(super) struct SessionFields {
    /// Follows the user-name rules; need not be in the users file.
    #[schema(min_length = 1, max_length = 64, example = "user1")]
    subject: String,
    /// Missing or empty: derived from `user_agent`.
    #[serde(default)]
    #[schema(max_length = 64)]
    device: Option<String>,
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 32,
        pattern = "^[a-z0-9_-]+$",
        example = "web"
    )]
    device_class: Option<String>,
    #[serde(default)]
    #[schema(min_length = 8, max_length = 64, pattern = "^[A-Za-z0-9_-]+$")]
    device_id: Option<String>,
    /// The end user's address, as the backend saw it.
    #[serde(default)]
    #[schema(example = "203.0.113.7")]
    ip: Option<String>,
    /// The end user's User-Agent.
    #[serde(default)]
    user_agent: Option<String>,
}

/// The body of `POST /api/v1/sessions` (JSON only).
pub struct SessionRequest(pub TrustedSignIn);

impl<S: Send + Sync> FromRequest<S> for SessionRequest {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ApiJson(f) = ApiJson::<SessionFields>::from_request(req, state).await?;
        let subject = Username::parse(&f.subject)
            .map_err(|e| ApiError::BadRequest(format!("subject: {e}")))?;
        let device = f.device.as_deref().map(DeviceName::parse).transpose();
        let device_class = f
            .device_class
            .as_deref()
            .map(DeviceClass::parse)
            .transpose();
        let device_id = f
            .device_id
            .as_deref()
            .map(ClientDeviceId::parse)
            .transpose()
            .map_err(bad_request)?;
        let ip = match f.ip {
            Some(ip) => ip
                .parse::<IpAddr>()
                .map_err(|_| ApiError::BadRequest("ip must be an IPv4 or IPv6 address".into()))?
                .to_string(),
            None => "unknown".to_owned(),
        };
        Ok(SessionRequest(TrustedSignIn {
            subject,
            device: device.map_err(bad_request)?,
            device_class: device_class.map_err(bad_request)?,
            device_id,
            meta: ClientMeta {
                ip,
                user_agent: f.user_agent,
            },
        }))
    }
}

fn bad_request(e: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest(e.to_string())
}

/// RFC 7662's request (`IntrospectionRequest` in the OpenAPI document).
#[derive(Deserialize, ToSchema)]
#[schema(as = IntrospectionRequest)]
pub(super) struct TokenField {
    /// A session token; any other string is simply not active.
    token: String,
}

impl FromForm for TokenField {
    fn from_form(body: &[u8]) -> Result<Self, ApiError> {
        let [token] = form_fields(body, ["token"])?;
        Ok(TokenField {
            token: token.ok_or_else(|| bad_form("missing token"))?,
        })
    }
}

/// The token of an RFC 7662 introspection request (form or JSON).
pub struct IntrospectRequest(pub String);

impl<S: Send + Sync> FromRequest<S> for IntrospectRequest {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let JsonOrForm(field) = JsonOrForm::<TokenField>::from_request(req, state).await?;
        Ok(IntrospectRequest(field.token))
    }
}
