//! `ApiError`: every error the HTTP API returns, mapped to status and code in
//! one place, in the order of PROTOCOL.md's table.
//!
//! Handlers return `Result<_, ApiError>` and use `?` on `AppError` and
//! extractor rejections. `IntoResponse` has no side effects: it serialises
//! the typed `{"error": {...}}` view and, for a server-side failure, puts the
//! error itself in the response extensions, where `log_server_errors` logs it
//! with its cause chain, once.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::views::{ErrorCode, ErrorDetails, ErrorView};
use crate::app::{AppError, EvictionOffer};
use crate::auth::AuthError;
use crate::domain::{Millis, Session, Tombstone};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: malformed JSON, missing or over-long field, wrong type.
    #[error("{0}")]
    BadRequest(String),
    /// 400: an eviction ticket that is unknown, used, expired or malformed.
    #[error("invalid or expired eviction ticket")]
    InvalidTicket,
    /// 400: a sweeping change (signing everyone out) asked for without the
    /// confirmation it needs (`?confirm=all`).
    #[error("this signs every session out: confirm with ?confirm=all")]
    ConfirmationRequired,
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
    /// 409: `deny_new` or `ask` and the limit is reached (with the
    /// eviction ticket under `ask`).
    #[error("session limit reached")]
    SessionLimitReached {
        active: Vec<Session>,
        offer: Option<EvictionOffer>,
    },
    /// 413: body over 16 KiB.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 414: request target over 8 KiB.
    #[error("URI too long")]
    UriTooLong,
    /// 429: too many failed sign-ins.
    #[error("too many failed attempts")]
    RateLimited { retry_after: Duration },
    /// 431: header section over 64 KiB or over 100 lines.
    #[error("request headers too large")]
    HeadersTooLarge,
    /// 503: the store cannot be reached; nothing was changed.
    #[error("session store unavailable")]
    StoreUnavailable(#[source] StoreError),
    /// 500: a bug or unreadable stored data; the cause is logged, never sent.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::InvalidTicket | ApiError::ConfirmationRequired => {
                StatusCode::BAD_REQUEST
            }
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
            ApiError::UriTooLong => StatusCode::URI_TOO_LONG,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::StoreUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::BadRequest(_) => ErrorCode::BadRequest,
            ApiError::InvalidTicket => ErrorCode::InvalidTicket,
            ApiError::ConfirmationRequired => ErrorCode::ConfirmationRequired,
            ApiError::UnsupportedMediaType => ErrorCode::UnsupportedMediaType,
            ApiError::InvalidCredentials => ErrorCode::InvalidCredentials,
            ApiError::Unauthorized => ErrorCode::Unauthorized,
            ApiError::SessionRevoked(_) => ErrorCode::SessionRevoked,
            ApiError::SessionExpired { .. } => ErrorCode::SessionExpired,
            ApiError::Forbidden => ErrorCode::Forbidden,
            ApiError::NotFound => ErrorCode::NotFound,
            ApiError::MethodNotAllowed => ErrorCode::MethodNotAllowed,
            ApiError::RequestTimeout => ErrorCode::RequestTimeout,
            ApiError::SessionLimitReached { .. } => ErrorCode::SessionLimitReached,
            ApiError::PayloadTooLarge => ErrorCode::PayloadTooLarge,
            ApiError::UriTooLong => ErrorCode::UriTooLong,
            ApiError::RateLimited { .. } => ErrorCode::RateLimited,
            ApiError::HeadersTooLarge => ErrorCode::HeadersTooLarge,
            ApiError::StoreUnavailable(_) => ErrorCode::StoreUnavailable,
            ApiError::Internal(_) => ErrorCode::Internal,
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

    fn details(&self) -> ErrorDetails {
        match self {
            ApiError::SessionRevoked(t) => ErrorDetails::revoked(t),
            ApiError::SessionExpired { revoked_at } => ErrorDetails::expired(*revoked_at),
            ApiError::SessionLimitReached { active, offer } => {
                ErrorDetails::limit(active, offer.as_ref())
            }
            _ => ErrorDetails::default(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) | StoreError::EventsNotHeard | StoreError::Unsuitable(_) => {
                ApiError::StoreUnavailable(e)
            }
            StoreError::Corrupt(_) => ApiError::Internal(Box::new(e)),
        }
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::InvalidCredentials => ApiError::InvalidCredentials,
            AppError::RateLimited { retry_after } => ApiError::RateLimited { retry_after },
            AppError::SessionLimitReached { active, offer } => {
                ApiError::SessionLimitReached { active, offer }
            }
            AppError::InvalidTicket => ApiError::InvalidTicket,
            AppError::Unauthorized => ApiError::Unauthorized,
            AppError::SessionRevoked(t) => ApiError::SessionRevoked(t),
            AppError::SessionExpired { revoked_at } => ApiError::SessionExpired { revoked_at },
            AppError::Forbidden => ApiError::Forbidden,
            AppError::NotFound => ApiError::NotFound,
            AppError::BadInput(what) => ApiError::BadRequest(what.to_owned()),
            AppError::Store(s) => s.into(),
            AppError::Auth(AuthError::Busy) => ApiError::RateLimited {
                retry_after: Duration::from_secs(1),
            },
            AppError::Auth(other) => ApiError::Internal(Box::new(other)),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = match &self {
            // Internal details stay in the log.
            ApiError::Internal(_) => "internal error".to_owned(),
            other => other.to_string(),
        };
        let view = ErrorView::new(self.code(), message, self.details());
        let mut response = (self.status(), axum::Json(view)).into_response();
        if let ApiError::RateLimited { retry_after } = &self {
            let secs = retry_after.as_secs_f64().ceil().max(1.0) as u64;
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status().is_server_error() {
            response.extensions_mut().insert(Arc::new(self));
        }
        response
    }
}

/// Logs each server-side error once, with its cause chain. A store outage is
/// logged where it is noticed (once per outage), so here only at debug.
pub async fn log_server_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if let Some(error) = response.extensions().get::<Arc<ApiError>>() {
        let mut chain = error.to_string();
        let mut source = std::error::Error::source(error.as_ref());
        while let Some(cause) = source {
            chain.push_str(": ");
            chain.push_str(&cause.to_string());
            source = cause.source();
        }
        match error.as_ref() {
            ApiError::StoreUnavailable(_) => tracing::debug!(error = %chain, "request failed"),
            _ => tracing::error!(error = %chain, "request failed"),
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Reason;

    /// PROTOCOL.md's error table, row by row.
    #[test]
    fn every_variant_matches_the_protocol_table() {
        let table: Vec<(ApiError, u16, &str)> = vec![
            (ApiError::BadRequest("x".into()), 400, "bad_request"),
            (ApiError::InvalidTicket, 400, "invalid_ticket"),
            (ApiError::ConfirmationRequired, 400, "confirmation_required"),
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
                ApiError::SessionLimitReached {
                    active: vec![],
                    offer: None,
                },
                409,
                "session_limit_reached",
            ),
            (ApiError::PayloadTooLarge, 413, "payload_too_large"),
            (ApiError::UriTooLong, 414, "uri_too_long"),
            (
                ApiError::RateLimited {
                    retry_after: Duration::from_secs(3),
                },
                429,
                "rate_limited",
            ),
            (ApiError::HeadersTooLarge, 431, "headers_too_large"),
            (
                ApiError::StoreUnavailable(StoreError::EventsNotHeard),
                503,
                "store_unavailable",
            ),
            (ApiError::Internal("x".into()), 500, "internal"),
        ];
        for (err, status, code) in table {
            assert_eq!(err.status().as_u16(), status, "{code}");
            assert_eq!(serde_json::to_value(err.code()).unwrap(), code);
        }
    }

    #[test]
    fn internal_details_stay_out_of_the_body() {
        let resp = ApiError::Internal("redis said something secret".into()).into_response();
        assert_eq!(resp.status(), 500);
        assert!(
            resp.extensions().get::<Arc<ApiError>>().is_some(),
            "kept for the log"
        );
        let body =
            futures_util::FutureExt::now_or_never(axum::body::to_bytes(resp.into_body(), 4096))
                .unwrap()
                .unwrap();
        assert!(!String::from_utf8_lossy(&body).contains("secret"));
    }
}
