//! How big a request may be: its URI, its headers, its body. Checked by one
//! middleware before routing, each answered with the JSON error shape.
//!
//! hyper has limits of its own, but answers them with an empty body; ours sit
//! well inside them (see `serve.rs`), so a client meets ours first. The body
//! is read here, whatever its framing; one past the limit is read on and
//! thrown away (up to `DRAIN_LIMIT`) before the 413, because closing on
//! unread bytes resets the connection and the client never sees the answer.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use super::ApiError;

/// Longest request target, in bytes (414 `uri_too_long` above).
pub const URI_LIMIT: usize = 8 * 1024;
/// Largest header section, in bytes, counted as sent (431 `headers_too_large` above).
pub const HEADER_LIMIT: usize = 64 * 1024;
/// Most header lines (431 `headers_too_large` above).
pub const HEADER_COUNT_LIMIT: usize = 100;
/// Largest request body (413 `payload_too_large` above).
pub const BODY_LIMIT: usize = 16 * 1024;
/// How much of a too-large body is read and dropped so the 413 arrives;
/// past it the connection is closed on the client.
pub const DRAIN_LIMIT: usize = 4 * 1024 * 1024;

/// Refuses a request over a limit; otherwise hands it on with its body read.
pub async fn enforce(req: Request, next: Next) -> Response {
    if target_len(req.uri()) > URI_LIMIT {
        return ApiError::UriTooLong.into_response();
    }
    let headers = req.headers();
    if headers.len() > HEADER_COUNT_LIMIT || header_section_len(headers) > HEADER_LIMIT {
        return ApiError::HeadersTooLarge.into_response();
    }
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // A client waiting for `100 Continue` has not sent the body yet: answer
    // before asking for it.
    let waits_to_send = parts
        .headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if waits_to_send && declared.is_some_and(|n| n > BODY_LIMIT as u64) {
        return too_large();
    }
    match read_within_limit(body).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(e) => e,
    }
}

/// The whole body, or the response refusing it.
async fn read_within_limit(body: Body) -> Result<Bytes, Response> {
    let mut chunks = body.into_data_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::BadRequest(format!("cannot read the request body: {e}")).into_response()
        })?;
        let read = buf.len() + chunk.len();
        if read > BODY_LIMIT {
            let mut drained = read;
            while drained <= DRAIN_LIMIT {
                match chunks.next().await {
                    Some(Ok(more)) => drained += more.len(),
                    _ => break,
                }
            }
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

/// 413, and the connection closes after it: what is left of the body is
/// not worth reading.
fn too_large() -> Response {
    let mut response = ApiError::PayloadTooLarge.into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The request target's length as the client sent it.
fn target_len(uri: &Uri) -> usize {
    let scheme = uri.scheme_str().map_or(0, |s| s.len() + "://".len());
    let authority = uri.authority().map_or(0, |a| a.as_str().len());
    let path = uri.path_and_query().map_or(0, |p| p.as_str().len());
    scheme + authority + path
}

/// Bytes of the header lines as sent: `name: value\r\n` each.
fn header_section_len(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + ": \r\n".len())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_count_what_was_sent() {
        let uri: Uri = "/api/x?a=1".parse().unwrap();
        assert_eq!(target_len(&uri), 10);
        let uri: Uri = "http://h:1/p".parse().unwrap();
        assert_eq!(target_len(&uri), 12);
        let mut headers = HeaderMap::new();
        headers.insert("a", HeaderValue::from_static("bc"));
        headers.append("a", HeaderValue::from_static("d"));
        assert_eq!(header_section_len(&headers), "a: bc\r\na: d\r\n".len());
    }
}
