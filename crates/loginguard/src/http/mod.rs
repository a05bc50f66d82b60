//! The HTTP API: routes, extractors and the one error type.
//!
//! Handlers are thin: extract (parsing happens in `extract`), make one call
//! into `auth` or `store`, shape the JSON (`views`). Each resource file has
//! its own `router()`; this file merges them and adds the JSON 404/405
//! fallbacks, the 16 KiB body limit and panic safety.

mod admin;
mod error;
mod extract;
mod login;
mod ops;
mod sessions;
mod views;

pub use admin::AdminCache;
pub use error::ApiError;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::state::AppState;

/// Largest request body accepted (413 `payload_too_large` above).
pub const BODY_LIMIT: usize = 16 * 1024;

/// The whole application router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(login::router())
        .merge(sessions::router())
        .merge(admin::router())
        .merge(ops::router())
        .merge(crate::web::router())
        .route("/ws", get(crate::ws::upgrade_handler))
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(ApiError::Internal(
                "handler panicked".into(),
            ))
        }))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
