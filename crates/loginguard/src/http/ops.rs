//! Operations endpoints: `GET /healthz` (the process runs) and `GET /readyz`
//! (the store answers and its events are heard).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::ApiError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
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
