//! The OpenAPI 3.1 document and `GET /api/openapi.json`, which serves it.
//!
//! The document is not written by hand: each handler's `#[utoipa::path]`
//! and the `ToSchema` of its views and bodies make it, collected by the
//! `routes!` that also route the handler (so a route and its documentation
//! are one line, see docs/integration.md). This file adds what belongs to no
//! handler: the title, the security schemes, the web page's files (`web`),
//! and in cookie mode (`--cookie NAME`) the cookie as another way in. It must
//! not decide any answer of the API itself.

use std::sync::OnceLock;

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};
use utoipa::openapi::path::{HttpMethod, OperationBuilder};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, ObjectBuilder, OpenApi, ResponsesBuilder, Type};
use utoipa::{Modify, OpenApi as _};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::cookie::CookieRule;
use super::responses::Always;
use super::state::AppState;
use super::views::{ErrorCode, ErrorView};

/// The session token scheme every `/api/auth` and `/api/admin` route names;
/// in cookie mode the cookie is offered next to it.
const SESSION_TOKEN: &str = "session_token";
const SESSION_COOKIE: &str = "session_cookie";

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "loginguard",
        description = "One account, N active sessions, enforced atomically; the old device is \
told at once over the WebSocket (`/ws`). The wire contract, WebSocket messages included, is \
PROTOCOL.md. Every error is `{\"error\": {\"code\", \"message\", ...}}` with a stable `code` \
(`ErrorCode`); every `/api/` answer carries `Cache-Control: no-store`."
    ),
    modifiers(&SecuritySchemes),
    components(schemas(ErrorView, ErrorCode)),
    tags(
        (name = "auth", description = "Sign-in and sign-out with the accounts of the users file"),
        (name = "sessions", description = "The caller's own sessions"),
        (name = "admin", description = "Administration (admin accounts only)"),
        (name = "backend", description = "Trusted backends (`/api/v1`), with an API key"),
        (name = "proxy", description = "Reverse proxies (nginx `auth_request`, Traefik ForwardAuth, Caddy `forward_auth`)"),
        (name = "websocket", description = "The push channel"),
        (name = "operations", description = "Health, readiness and metrics"),
        (name = "demo", description = "The demo accounts"),
        (name = "web", description = "The web page and the JS client"),
        (name = "openapi", description = "This document"),
    )
)]
struct Base;

/// The two bearer schemes; the cookie is added at serve time (`with_cookie`).
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        let bearer = |format: &str, description: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format(format)
                    .description(Some(description))
                    .build(),
            )
        };
        components.add_security_scheme(
            SESSION_TOKEN,
            bearer(
                "opaque",
                "The `token` of a sign-in (`POST /api/auth/login` or `POST /api/v1/sessions`).",
            ),
        );
        components.add_security_scheme(
            "api_key",
            bearer(
                "lgk_ and 43 base64url characters",
                "An API key of `--api-keys` (`loginguard api-key new NAME`). Scopes: \
                 `sessions` (create, list and end sessions) and `introspect`.",
            ),
        );
    }
}

/// The title, tags and security schemes the routes are merged into.
pub fn base() -> OpenApi {
    Base::openapi()
}

/// Adds the web page's files (routed by `web`, not by `routes!`).
pub fn add_web_page(doc: &mut OpenApi) {
    for (path, content_type) in crate::web::served() {
        let media_type = content_type.split(';').next().unwrap_or(content_type);
        let file = ResponseBuilder::new().description("The file").content(
            media_type,
            ContentBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .build(),
        );
        let operation = OperationBuilder::new()
            .tag("web")
            .summary(Some(format!("`{path}`, embedded in the binary")))
            .responses(
                ResponsesBuilder::new()
                    .response("200", file)
                    .responses_from_into_responses::<Always>(),
            );
        doc.paths
            .add_path_operation(path, vec![HttpMethod::Get], operation);
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(document))
}

/// This document (OpenAPI 3.1).
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    operation_id = "openapi_document",
    tag = "openapi",
    responses(
        (status = 200, description = "The OpenAPI document", content((Object = "application/json"))),
        Always,
    ),
)]
async fn document(State(cookies): State<CookieRule>) -> Json<Value> {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    let doc = DOCUMENT.get_or_init(|| {
        serde_json::to_value(super::document()).expect("the OpenAPI document serialises")
    });
    Json(match cookies.name.as_deref() {
        Some(name) => with_cookie(doc.clone(), name),
        None => doc.clone(),
    })
}

/// In cookie mode, every route that takes the session token also takes the
/// cookie `name`.
fn with_cookie(mut doc: Value, name: &str) -> Value {
    doc["components"]["securitySchemes"][SESSION_COOKIE] = json!({
        "type": "apiKey",
        "in": "cookie",
        "name": name,
        "description": "The session token in the cookie that sign-in sets (`--cookie`). An \
            unsafe method authenticated by it alone needs an `Origin` of `--allowed-origins` or \
            the server's own (otherwise 403 `forbidden`).",
    });
    let operations = doc["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut());
    for operation in operations {
        let Some(security) = operation.get_mut("security").and_then(Value::as_array_mut) else {
            continue;
        };
        if security.iter().any(|s| s.get(SESSION_TOKEN).is_some()) {
            security.push(json!({ SESSION_COOKIE: [] }));
        }
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_mode_offers_the_cookie_wherever_the_token_is_taken() {
        let doc = json!({
            "components": {"securitySchemes": {}},
            "paths": {
                "/a": {"get": {"security": [{"session_token": []}]}, "parameters": []},
                "/b": {"post": {"security": [{"api_key": ["sessions"]}]}},
                "/c": {"get": {}},
            },
        });
        let doc = with_cookie(doc, "lg");
        let scheme = &doc["components"]["securitySchemes"][SESSION_COOKIE];
        assert_eq!(
            (&scheme["in"], &scheme["name"]),
            (&json!("cookie"), &json!("lg"))
        );
        assert_eq!(
            doc["paths"]["/a"]["get"]["security"],
            json!([{"session_token": []}, {"session_cookie": []}])
        );
        assert_eq!(
            doc["paths"]["/b"]["post"]["security"],
            json!([{"api_key": ["sessions"]}])
        );
        assert_eq!(doc["paths"]["/c"]["get"], json!({}));
    }
}
