//! Operations endpoints: `GET /healthz` (the process runs) and `GET /readyz`
//! (the store answers and its events are heard), and `GET /metrics`.

use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::ApiError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// How old the live-session count in `/metrics` may be. Counting walks every
/// account in the store, so a scraper must not trigger it every few seconds.
const LIVE_COUNT_MAX_AGE: Duration = Duration::from_secs(60);

/// Prometheus text exposition. Live sessions come from the admin snapshot
/// (at most a minute old); when the store is down the count is 0.
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let live = match state
        .admin_cache
        .snapshot_within(&state, LIVE_COUNT_MAX_AGE)
        .await
    {
        Ok((_, all)) => all.len(),
        Err(_) => 0,
    };
    let body = state.metrics.render(state.hub.socket_count(), live);
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], body)
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state.store.ping().await?;
    if !state.bus_health.is_live() {
        return Err(ApiError::StoreUnavailable);
    }
    Ok(Json(json!({ "status": "ready" })))
}
