//! Operations endpoints: `GET /healthz` (the process runs), `GET /readyz`
//! (the store answers and its events are heard) and `GET /metrics`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use super::state::AppState;
use super::views::StatusView;
use super::ApiError;
use crate::app::Operations;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

async fn metrics(State(ops): State<Arc<Operations>>) -> impl IntoResponse {
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    (
        [(header::CONTENT_TYPE, content_type)],
        ops.metrics_text().await,
    )
}

async fn healthz() -> Json<StatusView> {
    Json(StatusView { status: "ok" })
}

async fn readyz(State(ops): State<Arc<Operations>>) -> Result<Json<StatusView>, ApiError> {
    ops.ready().await?;
    Ok(Json(StatusView { status: "ready" }))
}
