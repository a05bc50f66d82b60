//! `GET /ws`: the upgrade, the last place a socket sees HTTP.
//!
//! Checks `Origin` against the allow-list (403 before upgrading), sets small
//! buffers and the 4 KiB message limit (axum's defaults cost over 100 KiB per
//! idle socket), then hands the socket to `ws::run_connection`. The token
//! never travels in the URL: it comes in the first message, or, in cookie
//! mode, from the upgrade's cookie when that message asks for it and the
//! page's origin is on the allow-list.

use std::sync::Arc;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::cookie::CookieRule;
use super::responses::{Always, BadRequest, Forbidden};
use super::state::{AppState, OriginRule};
use super::ApiError;
use crate::domain::Token;
use crate::ws::{self, ConnContext, MAX_MESSAGE_BYTES};

/// Socket read buffer: its first size, and the most one read asks the
/// kernel for. It stays allocated for the socket's whole life, so it is cut
/// to what the client's messages need: `auth`, the largest (an 86-character
/// token), is a 118-byte frame. A larger message (up to the 4 KiB limit)
/// grows the buffer to fit once its frame header is read.
const READ_BUFFER: usize = 128;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(upgrade))
}

/// The WebSocket (RFC 6455 upgrade: `Connection: upgrade`, `Upgrade:
/// websocket`, `Sec-WebSocket-Version: 13`, `Sec-WebSocket-Key`). Its
/// messages (`auth` first, then `force_logout` and the rest) are described
/// in PROTOCOL.md, not here: OpenAPI has no words for them.
#[utoipa::path(
    get,
    path = "/ws",
    operation_id = "websocket",
    tag = "websocket",
    responses(
        (status = 101, description = "Switched to the WebSocket protocol"),
        BadRequest, Forbidden, Always,
    ),
)]
async fn upgrade(
    State(origins): State<OriginRule>,
    State(cookies): State<CookieRule>,
    State(ctx): State<Arc<ConnContext>>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let origin = headers.get(header::ORIGIN).map(|v| v.as_bytes());
    if !origins.allows(origin) {
        return Err(ApiError::Forbidden);
    }
    let upgrade = upgrade.map_err(|r| ApiError::BadRequest(r.body_text()))?;
    // Any page may open a socket, and the browser would send the cookie
    // along: only a listed origin gets to use it.
    let cookie = origin
        .filter(|o| origins.lists(o))
        .and_then(|_| cookies.token(&headers))
        .and_then(|raw| Token::parse(raw).ok())
        .map(Box::new);
    Ok(upgrade
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| ws::run_connection(socket, ctx, cookie)))
}
