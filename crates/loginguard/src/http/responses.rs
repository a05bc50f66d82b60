//! The error answers as the OpenAPI document lists them: one type per
//! status, each with the `{"error": {...}}` body and the codes it can carry.
//!
//! Handlers name the ones they can return in `#[utoipa::path(responses(...))]`
//! next to their success answer; `Always` goes on every route, because the
//! request limits, the timeout and the panic guard (`http/mod.rs`) stand in
//! front of all of them. Documentation only (the types have no values):
//! `ApiError` (`error.rs`) decides what is actually sent.

use std::collections::BTreeMap;

use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, ObjectBuilder, Ref, RefOr, Type};
use utoipa::{IntoResponses, ToSchema};

use super::views::ErrorView;

/// An error answer: `description`, and the error shape as JSON.
fn error(description: &str) -> ResponseBuilder {
    let body = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(ErrorView::name())))
        .build();
    ResponseBuilder::new()
        .description(description)
        .content("application/json", body)
}

/// `errors! { /// doc  Name = status; ... }`: a type per error answer, whose
/// doc comment is the response's description.
macro_rules! errors {
    ($($(#[doc = $doc:literal])+ $name:ident = $status:literal;)+) => {$(
        $(#[doc = $doc])+
        pub enum $name {}

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                let description = [$($doc.trim()),+].join(" ");
                BTreeMap::from([($status.to_string(), error(&description).build().into())])
            }
        }
    )+};
}

errors! {
    /// 400 `bad_request`: malformed JSON or form, a missing, over-long or
    /// ill-formed field, a value out of range.
    BadRequest = 400;

    /// 400 `invalid_ticket`: the eviction ticket is unknown, used, expired or
    /// malformed; `bad_request`: a malformed body.
    BadTicket = 400;

    /// 400 `confirmation_required`: signing everyone out needs
    /// `?confirm=all`; `bad_request`: a malformed query.
    Unconfirmed = 400;

    /// 401 `unauthorized` (no token, or not one of ours), `session_revoked`
    /// (adds `reason`, `revoked_at`, `by`) or `session_expired` (adds `reason`,
    /// `revoked_at`).
    NoSession = 401;

    /// 401 `invalid_credentials`: wrong user name or password (the same answer
    /// for both).
    InvalidCredentials = 401;

    /// 401 `unauthorized`: no API key, or not one of the configured ones.
    NoApiKey = 401;

    /// 403 `forbidden`: not allowed (not an administrator, an API key without
    /// the scope, or in cookie mode an unsafe method authenticated by the
    /// cookie alone from an origin that is not allowed).
    Forbidden = 403;

    /// 404 `not_found`: no such session among those the caller may see.
    NotFound = 404;

    /// 409 `session_limit_reached`: `on_limit` is `deny_new` or `ask` and
    /// there is no room; adds `active_sessions` and, under `ask`,
    /// `eviction_ticket` and `ticket_expires_at`.
    LimitReached = 409;

    /// 415 `unsupported_media_type`: the body is not of a type this endpoint
    /// takes.
    UnsupportedMediaType = 415;

    /// 503 `store_unavailable`: the session store cannot be reached; nothing
    /// was changed.
    StoreUnavailable = 503;
}

/// 429 `rate_limited`: too many failed sign-ins (or every password check is
/// busy); wait `Retry-After` seconds.
pub enum RateLimited {}

impl IntoResponses for RateLimited {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let seconds = HeaderBuilder::new()
            .schema(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1)),
            )
            .description(Some("Seconds to wait before trying again"))
            .build();
        let response =
            error("`rate_limited`: too many failed sign-ins (or every password check is busy)")
                .header("Retry-After", seconds);
        BTreeMap::from([("429".to_owned(), response.build().into())])
    }
}

/// The answers any request can get, whatever its route.
pub enum Always {}

impl IntoResponses for Always {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        [
            (
                "408",
                "`request_timeout`: the request took longer than 15 s",
            ),
            ("413", "`payload_too_large`: a body over 16 KiB"),
            ("414", "`uri_too_long`: a request target over 8 KiB"),
            (
                "431",
                "`headers_too_large`: over 100 header lines or 64 KiB of headers",
            ),
            ("500", "`internal`: a bug; the cause is logged, never sent"),
        ]
        .into_iter()
        .map(|(status, description)| (status.to_owned(), error(description).build().into()))
        .collect()
    }
}
