//! The `/ws` upgrade: the last place that sees HTTP.
//!
//! Checks `Origin` against the allow-list (403 before upgrading), sets small
//! buffers and the 4 KiB message limit (axum's defaults cost over 100 KiB per
//! idle socket), then hands the socket to `connection::run`. The token never
//! travels in the URL: it comes in the first message.

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::Response;

use super::connection;
use super::message::MAX_MESSAGE_BYTES;
use crate::http::ApiError;
use crate::state::AppState;

/// Socket read buffer. Small because most sockets idle; it grows for the
/// rare larger message (up to the 4 KiB limit).
const READ_BUFFER: usize = 1024;

pub async fn handler(
    State(state): State<AppState>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let origins = &state.config.allowed_origins;
    if let Some(origin) = headers.get(header::ORIGIN) {
        let allowed = origins.is_empty()
            || origin
                .to_str()
                .is_ok_and(|o| origins.iter().any(|a| a.eq_ignore_ascii_case(o)));
        if !allowed {
            return Err(ApiError::Forbidden);
        }
    }
    let upgrade = upgrade.map_err(|r| ApiError::BadRequest(r.body_text()))?;
    let ctx = state.conn_context();
    Ok(upgrade
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| connection::run(socket, ctx)))
}
