//! Operations endpoints: `GET /healthz` (the process runs), `GET /readyz`
//! (the store answers and its events are heard) and `GET /metrics`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::IntoResponse;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::responses::{Always, StoreUnavailable};
use super::state::AppState;
use super::views::StatusView;
use super::ApiError;
use crate::app::Operations;
use crate::metrics::to_prometheus_text;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}

/// Prometheus metrics: OpenMetrics, unless the client asks for the classic text format only
/// (`Accept: text/plain`, as `promtool check metrics` users and older
/// scrapers do). Prometheus asks for OpenMetrics first.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    responses(
        (status = 200, description = "The metrics", content(
            (String = "application/openmetrics-text"),
            (String = "text/plain"),
        )),
        Always,
    ),
)]
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

/// 200 while the process runs.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "operations",
    responses((status = 200, body = StatusView, description = "`{\"status\": \"ok\"}`"), Always),
)]
async fn healthz() -> Json<StatusView> {
    Json(StatusView { status: "ok" })
}

/// 200 when the store answers and its events are heard.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "operations",
    responses(
        (status = 200, body = StatusView, description = "`{\"status\": \"ready\"}`"),
        StoreUnavailable, Always,
    ),
)]
async fn readyz(State(ops): State<Arc<Operations>>) -> Result<Json<StatusView>, ApiError> {
    ops.ready().await?;
    Ok(Json(StatusView { status: "ready" }))
}
