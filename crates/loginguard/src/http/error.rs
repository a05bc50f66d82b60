//! `ApiError`: every error the HTTP API returns, mapped to status and code in
//! one place, in the order of PROTOCOL.md's table.
//!
//! Handlers return `Result<_, ApiError>` and use `?` on `AuthError`,
//! `StoreError` and extractor rejections. `IntoResponse` only builds the
//! `{"error": {...}}` body; an `Internal` error's cause is logged here, once,
//! and never shown to the client.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::auth::AuthError;
use crate::domain::{Millis, Reason, Session, Tombstone};
use crate::store::StoreError;
use crate::ws::message::ActorView;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: malformed JSON, missing or over-long field, wrong type.
    #[error("{0}")]
    BadRequest(String),
    /// 415: a body that is neither JSON nor (for sign-in) form-encoded.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 401: wrong user name or password.
    #[error("invalid user name or password")]
    InvalidCredentials,
    /// 401: no token, unknown token, malformed token.
    #[error("authentication required")]
    Unauthorized,
    /// 401: the token's session was revoked.
    #[error("session revoked")]
    SessionRevoked(Tombstone),
    /// 401: the token's session expired.
    #[error("session expired")]
    SessionExpired { revoked_at: Millis },
    /// 403: authenticated but not allowed.
    #[error("forbidden")]
    Forbidden,
    /// 404: unknown route or session id.
    #[error("not found")]
    NotFound,
    /// 405: known route, wrong method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 408: the request took too long (a body trickled in, for example).
    #[error("request timed out")]
    RequestTimeout,
    /// 409: `deny_new` and the limit is reached.
    #[error("session limit reached")]
    SessionLimitReached { active: Vec<Session> },
    /// 413: body over 16 KiB.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 429: too many failed sign-ins.
    #[error("too many failed attempts")]
    RateLimited { retry_after: Duration },
    /// 503: the store cannot be reached; nothing was changed.
    #[error("session store unavailable")]
    StoreUnavailable,
    /// 500: a bug or unreadable stored data; the cause is logged.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::InvalidCredentials
            | ApiError::Unauthorized
            | ApiError::SessionRevoked(_)
            | ApiError::SessionExpired { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::SessionLimitReached { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::InvalidCredentials => "invalid_credentials",
            ApiError::Unauthorized => "unauthorized",
            ApiError::SessionRevoked(_) => "session_revoked",
            ApiError::SessionExpired { .. } => "session_expired",
            ApiError::Forbidden => "forbidden",
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::RequestTimeout => "request_timeout",
            ApiError::SessionLimitReached { .. } => "session_limit_reached",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::StoreUnavailable => "store_unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    /// Maps an axum extractor rejection by its status: 413 and 415 keep their
    /// meaning, anything else is the client's malformed input.
    pub fn from_rejection(status: StatusCode, text: String) -> Self {
        match status {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
            _ => ApiError::BadRequest(text),
        }
    }

    fn extra(&self) -> Map<String, Value> {
        let mut extra = Map::new();
        match self {
            ApiError::SessionRevoked(t) => {
                extra.insert("reason".into(), json!(t.reason));
                extra.insert("revoked_at".into(), json!(t.revoked_at.to_rfc3339()));
                extra.insert("by".into(), json!(t.by.as_ref().map(ActorView::from)));
            }
            ApiError::SessionExpired { revoked_at } => {
                extra.insert("reason".into(), json!(Reason::Expired));
                extra.insert("revoked_at".into(), json!(revoked_at.to_rfc3339()));
            }
            ApiError::SessionLimitReached { active } => {
                let list: Vec<Value> = active
                    .iter()
                    .map(|s| {
                        json!({
                            "session_id": s.session_id,
                            "device": s.device.as_str(),
                            "ip": s.ip,
                            "created_at": s.created_at.to_rfc3339(),
                            "last_seen_at": s.last_seen_at.to_rfc3339(),
                        })
                    })
                    .collect();
                extra.insert("active_sessions".into(), Value::Array(list));
            }
            _ => {}
        }
        extra
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            // Logged once per outage by the store, not once per request.
            StoreError::Unavailable(source) => {
                tracing::debug!(error = %source, "session store unavailable");
                ApiError::StoreUnavailable
            }
            StoreError::Corrupt(what) => ApiError::Internal(what),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::InvalidCredentials => ApiError::InvalidCredentials,
            AuthError::RateLimited { retry_after } => ApiError::RateLimited { retry_after },
            AuthError::Busy => ApiError::RateLimited {
                retry_after: Duration::from_secs(1),
            },
            AuthError::SessionLimitReached { active } => ApiError::SessionLimitReached { active },
            AuthError::Store(s) => s.into(),
            AuthError::Hashing(what) => ApiError::Internal(what),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            tracing::error!(%cause, "internal error");
        }
        let mut body = Map::new();
        body.insert("code".into(), json!(self.code()));
        let message = match &self {
            ApiError::Internal(_) => "internal error".to_owned(),
            other => other.to_string(),
        };
        body.insert("message".into(), json!(message));
        body.extend(self.extra());
        let mut response = (self.status(), axum::Json(json!({ "error": body }))).into_response();
        if let ApiError::RateLimited { retry_after } = &self {
            let secs = retry_after.as_secs_f64().ceil().max(1.0) as u64;
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PROTOCOL.md's error table, row by row.
    #[test]
    fn every_variant_matches_the_protocol_table() {
        let table: Vec<(ApiError, u16, &str)> = vec![
            (ApiError::BadRequest("x".into()), 400, "bad_request"),
            (
                ApiError::UnsupportedMediaType,
                415,
                "unsupported_media_type",
            ),
            (ApiError::InvalidCredentials, 401, "invalid_credentials"),
            (ApiError::Unauthorized, 401, "unauthorized"),
            (
                ApiError::SessionRevoked(Tombstone {
                    token_hash: crate::domain::Token::issue(
                        &crate::domain::Username::parse("u").unwrap(),
                        [0; 16],
                        [0; 32],
                    )
                    .hash(),
                    reason: Reason::Logout,
                    revoked_at: Millis(0),
                    by: None,
                    until: Millis(1),
                }),
                401,
                "session_revoked",
            ),
            (
                ApiError::SessionExpired {
                    revoked_at: Millis(0),
                },
                401,
                "session_expired",
            ),
            (ApiError::Forbidden, 403, "forbidden"),
            (ApiError::NotFound, 404, "not_found"),
            (ApiError::MethodNotAllowed, 405, "method_not_allowed"),
            (ApiError::RequestTimeout, 408, "request_timeout"),
            (
                ApiError::SessionLimitReached { active: vec![] },
                409,
                "session_limit_reached",
            ),
            (ApiError::PayloadTooLarge, 413, "payload_too_large"),
            (
                ApiError::RateLimited {
                    retry_after: Duration::from_secs(3),
                },
                429,
                "rate_limited",
            ),
            (ApiError::StoreUnavailable, 503, "store_unavailable"),
            (ApiError::Internal("x".into()), 500, "internal"),
        ];
        for (err, status, code) in table {
            assert_eq!(err.status().as_u16(), status, "{code}");
            assert_eq!(err.code(), code);
        }
    }

    #[test]
    fn internal_details_stay_out_of_the_body() {
        let resp = ApiError::Internal("redis said something secret".into()).into_response();
        assert_eq!(resp.status(), 500);
    }
}
