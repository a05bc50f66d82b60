//! The web page at `/` and the JS client, embedded in the binary.
//!
//! Merged into the app router by `http::router`. Serves the page (`assets/`)
//! and `clients/js` (`loginguard-client` and its generated close-code table)
//! at stable paths, each with its Content-Type, a strict
//! Content-Security-Policy (no inline script, nothing from another origin)
//! and `nosniff`. Static bytes only: it must not read files at run time,
//! touch the store or see a token; the page talks to the API like any other
//! client.

use axum::http::{header, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// Sent with every asset. Scripts, styles, images and fetch/WebSocket calls
/// may only go to this origin; no inline script or style, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'";

/// One embedded file and the path it is served at.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";
const TS: &str = "application/typescript; charset=utf-8";

/// `asset!(client path, type, file)`: `file` is in `clients/js`;
/// `asset!(path, type, file)`: `file` is relative to this directory.
macro_rules! asset {
    (client $path:literal, $content_type:expr, $file:literal) => {
        asset!(
            $path,
            $content_type,
            concat!("../../../../clients/js/", $file)
        )
    };
    ($path:literal, $content_type:expr, $file:expr) => {
        Asset {
            path: $path,
            content_type: $content_type,
            body: include_str!($file),
        }
    };
}

/// Every file the page needs; the page itself comes first. The client paths
/// are stable: apps may load the module from a loginguard server directly,
/// and it imports the close-code table by the relative `./close-codes.js`.
const ASSETS: &[Asset] = &[
    asset!("/", HTML, "assets/index.html"),
    asset!("/assets/app.js", JS, "assets/app.js"),
    asset!("/assets/policies.js", JS, "assets/policies.js"),
    asset!("/assets/app.css", CSS, "assets/app.css"),
    asset!("/assets/favicon.svg", SVG, "assets/favicon.svg"),
    asset!(client "/client/loginguard-client.js", JS, "index.js"),
    asset!(client "/client/close-codes.js", JS, "close-codes.js"),
    asset!(client "/client/loginguard-client.d.ts", TS, "index.d.ts"),
];

/// The page's routes; `http::router` merges them. Generic over the state,
/// so this module needs nothing from the app (and tests serve it bare).
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    ASSETS.iter().fold(Router::new(), |router, asset| {
        router.route(asset.path, get(move || async move { serve(asset) }))
    })
}

/// Each route's path and Content-Type, for the OpenAPI document.
pub fn served() -> impl Iterator<Item = (&'static str, &'static str)> {
    ASSETS.iter().map(|a| (a.path, a.content_type))
}

fn serve(asset: &'static Asset) -> Response {
    let headers = [
        (header::CONTENT_TYPE, asset.content_type),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // Small files that change with the binary: revalidate every time.
        (header::CACHE_CONTROL, "no-cache"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ]
    .map(|(name, value)| (name, HeaderValue::from_static(value)));
    (headers, asset.body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{to_bytes, Body};
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    async fn get_asset(path: &str) -> Response {
        router::<()>()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn every_asset_is_served_with_its_type_and_the_csp() {
        for asset in ASSETS {
            let response = get_asset(asset.path).await;
            assert_eq!(response.status(), StatusCode::OK, "{}", asset.path);
            let h = response.headers();
            assert_eq!(h[header::CONTENT_TYPE], asset.content_type);
            assert_eq!(h[header::CONTENT_SECURITY_POLICY], CONTENT_SECURITY_POLICY);
            assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
            assert_eq!(body, asset.body.as_bytes());
        }
    }

    #[test]
    fn the_csp_allows_nothing_inline_and_no_other_origin() {
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
        assert!(!CONTENT_SECURITY_POLICY.contains("http"));
        assert!(!CONTENT_SECURITY_POLICY.contains('*'));
        assert!(CONTENT_SECURITY_POLICY.starts_with("default-src 'none';"));
    }

    #[test]
    fn the_page_has_no_inline_script_or_style_and_links_only_served_paths() {
        let html = ASSETS[0].body;
        for (i, _) in html.match_indices("<script") {
            let tag = &html[i..i + html[i..].find('>').unwrap()];
            assert!(tag.contains(" src=\""), "inline script: {tag}");
        }
        assert!(!html.contains("<style"), "inline <style>");
        assert!(!html.contains(" style="), "inline style attribute");
        for (i, _) in html.match_indices(" on") {
            let name: String = html[i + 3..]
                .chars()
                .take_while(char::is_ascii_lowercase)
                .collect();
            let after = html[i + 3 + name.len()..].chars().next();
            assert!(
                name.is_empty() || after != Some('='),
                "inline event handler: on{name}"
            );
        }
        for attr in ["src=\"", "href=\""] {
            for (i, _) in html.match_indices(attr) {
                let start = i + attr.len();
                let url = &html[start..start + html[start..].find('"').unwrap()];
                assert!(
                    ASSETS.iter().any(|a| a.path == url),
                    "{url} is not served by this module"
                );
            }
        }
        let app = ASSETS[1].body;
        assert!(app.contains("from \"/client/loginguard-client.js\""));
    }

    #[test]
    fn every_module_the_client_imports_is_served_beside_it() {
        let client = ASSETS
            .iter()
            .find(|a| a.path == "/client/loginguard-client.js")
            .unwrap();
        let imports: Vec<&str> = client
            .body
            .match_indices("from \"./")
            .map(|(i, from)| {
                let rest = &client.body[i + from.len()..];
                &rest[..rest.find('"').unwrap()]
            })
            .collect();
        assert!(imports.contains(&"close-codes.js"), "{imports:?}");
        for module in imports {
            let path = format!("/client/{module}");
            assert!(
                ASSETS.iter().any(|a| a.path == path),
                "{path} is not served"
            );
        }
    }
}
