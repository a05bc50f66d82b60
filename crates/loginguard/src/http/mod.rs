//! The HTTP API: routes, extractors, views and the one error type.
//!
//! Handlers are thin: extract (parsing happens in `extract`), make one call
//! into `app`, turn the result into a view (`views`). Each resource file has
//! its own `router()`, whose `routes!` route each handler and document it
//! (`openapi`); this file merges them (the OpenAPI document is what they
//! collect) and adds the JSON 404/405 fallbacks, the request limits (`limits`), the request timeout, the
//! headers every API answer carries, panic safety and the one place server
//! errors are logged.

mod admin;
mod backend;
mod cookie;
mod demo;
mod error;
mod extract;
mod form;
mod forwarded;
#[cfg(test)]
mod fuzz;
mod limits;
mod login;
mod openapi;
mod ops;
mod policies;
mod responses;
mod serve;
mod sessions;
mod socket;
mod state;
mod tls;
mod trusted;
mod verify;
mod views;

pub use cookie::CookieRule;
pub use error::ApiError;
pub use serve::serve;
pub use state::{AppState, ClientIpRule, OriginRule};
pub use tls::{TlsError, TlsListener};
pub use views::AuditEntryView;

use std::time::Duration;

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::{DefaultOnFailure, TraceLayer};
use tracing::Level;
use utoipa_axum::router::OpenApiRouter;

/// Longest a request may take, body reading included (408 above). Sign-in
/// waits for a hashing thread and the rate limiter (at most 5 s) first.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Answers 408 when a request takes longer than `REQUEST_TIMEOUT`, so a
/// client trickling its body cannot hold a connection (or shutdown) forever.
async fn request_timeout(req: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::RequestTimeout.into_response(),
    }
}

/// Marks every `/api/` answer, errors included, as not to be cached (it may
/// hold a token or a session list) and as the JSON it says it is.
async fn api_headers(req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let mut response = next.run(req).await;
    if api {
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
    }
    response
}

/// Every route of the API, each with its OpenAPI documentation. A new
/// resource file's `router()` is merged here.
fn documented_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .merge(login::router())
        .merge(sessions::router())
        .merge(admin::router())
        .merge(policies::router())
        .merge(backend::router())
        .merge(verify::router())
        .merge(ops::router())
        .merge(demo::router())
        .merge(socket::router())
        .merge(openapi::router())
}

/// The OpenAPI document of everything `router` serves (without the cookie
/// scheme, which `GET /api/openapi.json` adds in cookie mode).
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = documented_routes().split_for_parts();
    openapi::add_web_page(&mut doc);
    doc
}

/// The whole application router.
pub fn router(state: AppState) -> Router {
    let (api, _) = documented_routes().split_for_parts();
    api.merge(crate::web::router())
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(middleware::from_fn(limits::enforce))
        .layer(middleware::from_fn(request_timeout))
        .layer(middleware::from_fn(api_headers))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Internal("handler panicked".into()).into_response()
        }))
        .layer(middleware::from_fn(error::log_server_errors))
        // 5xx are logged once by `log_server_errors`, not again here.
        .layer(TraceLayer::new_for_http().on_failure(DefaultOnFailure::new().level(Level::DEBUG)))
        .with_state(state)
}
