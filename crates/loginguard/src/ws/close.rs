//! WebSocket close codes, in one table (PROTOCOL.md) shared with the JS client.
//!
//! Each constant says when the server sends it and what a client should do.
//! Reasons are short ASCII so they fit a close frame (at most 123 bytes).

/// Session revoked; `force_logout` was sent first. Terminal: do not reconnect
/// with this token.
pub const REVOKED: u16 = 4001;
/// Unknown or malformed token, or a first message that is not `auth`.
/// Terminal: sign in again.
pub const UNAUTHORIZED: u16 = 4003;
/// No `auth` message within the auth timeout. Reconnect with backoff.
pub const AUTH_TIMEOUT: u16 = 4008;
/// A binary frame: the protocol is text only. A client bug; fix the client.
pub const UNSUPPORTED_DATA: u16 = 1003;
/// A text message that is not valid UTF-8. A client bug; fix the client.
pub const INVALID_DATA: u16 = 1007;
/// A message over 4 KiB. A client bug; do not resend the same message.
pub const TOO_BIG: u16 = 1009;
/// The server is restarting. Reconnect with backoff (to another instance).
pub const RESTARTING: u16 = 1012;
/// The session store could not be reached while authenticating. Reconnect
/// with backoff; the token may still be good.
pub const TRY_AGAIN_LATER: u16 = 1013;
/// Nothing was heard for longer than the idle timeout. Reconnect with backoff.
pub const IDLE: u16 = 1001;

/// The short reason sent with each code.
pub fn reason(code: u16) -> &'static str {
    match code {
        REVOKED => "force_logout",
        UNAUTHORIZED => "unauthorized",
        AUTH_TIMEOUT => "auth_timeout",
        UNSUPPORTED_DATA => "binary_not_supported",
        INVALID_DATA => "invalid_utf8",
        TOO_BIG => "message_too_big",
        RESTARTING => "server_restarting",
        TRY_AGAIN_LATER => "store_unavailable",
        IDLE => "idle_timeout",
        _ => "",
    }
}
