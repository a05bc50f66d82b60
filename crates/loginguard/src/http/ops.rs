//! Operations endpoints: `GET /healthz` (the process runs), `GET /readyz`
//! (the store answers and its events are heard) and `GET /metrics`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use super::state::AppState;
use super::views::StatusView;
use super::ApiError;
use crate::app::Operations;
use crate::metrics::to_prometheus_text;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// OpenMetrics, unless the client asks for the classic text format only
/// (`Accept: text/plain`, as `promtool check metrics` users and older
/// scrapers do). Prometheus asks for OpenMetrics first.
async fn metrics(State(ops): State<Arc<Operations>>, headers: HeaderMap) -> impl IntoResponse {
    let text = ops.metrics_text().await;
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if accept.contains("text/plain") && !accept.contains("openmetrics") {
        let content_type = "text/plain; version=0.0.4; charset=utf-8";
        (
            [(header::CONTENT_TYPE, content_type)],
            to_prometheus_text(&text),
        )
    } else {
        let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
        ([(header::CONTENT_TYPE, content_type)], text)
    }
}

async fn healthz() -> Json<StatusView> {
    Json(StatusView { status: "ok" })
}

async fn readyz(State(ops): State<Arc<Operations>>) -> Result<Json<StatusView>, ApiError> {
    ops.ready().await?;
    Ok(Json(StatusView { status: "ready" }))
}
