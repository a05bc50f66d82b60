//! `GET /api/openapi.json`: the document names every route the router has,
//! and every route it names is routed.
//!
//! Routes documented by `routes!` cannot be missed; what could be is a
//! route added another way. So the sources are read as text (as in
//! `layers.rs`): every `.route(...)`, `.route_service(...)`, `.nest(...)`
//! and `.nest_service(...)` call must name a literal path that the document
//! lists with the same methods, except the web page's, which `web` routes
//! from its `asset!` table (each of those paths must be listed too). The
//! schemas themselves are checked by schemathesis in `scripts/check-openapi`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::helpers::{base_config, spawn_app};

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The text of the call's arguments: from after `(` at `start` to its
/// matching `)`.
fn call_arguments(text: &str, start: usize) -> &str {
    let mut depth = 1;
    for (i, c) in text[start..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &text[start..start + i];
                }
            }
            _ => {}
        }
    }
    &text[start..]
}

/// The string literal `args` starts with (after `client`, for `asset!`).
fn leading_literal(args: &str) -> Option<&str> {
    let rest = args.trim_start();
    let rest = rest.strip_prefix("client").unwrap_or(rest).trim_start();
    let rest = rest.strip_prefix('"')?;
    rest.split('"').next()
}

/// The methods a method router expression names (`get(h)`, `.post(h)`, ...).
fn methods_named(expr: &str) -> BTreeSet<String> {
    METHODS
        .iter()
        .filter(|m| {
            expr.match_indices(&format!("{m}(")).any(|(i, _)| {
                let before = expr[..i].chars().next_back();
                !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
            })
        })
        .map(|m| m.to_string())
        .collect()
}

/// Path -> methods of every route the sources register outside `routes!`,
/// and the problems found on the way.
fn routes_in_sources() -> (BTreeMap<String, BTreeSet<String>>, Vec<String>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut routes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut problems = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.strip_prefix(&src).unwrap().display().to_string();
        let is_web = name == "web/mod.rs";
        for call in [".route(", ".route_service(", ".nest(", ".nest_service("] {
            for (at, _) in text.match_indices(call) {
                let args = call_arguments(&text, at + call.len());
                match leading_literal(args) {
                    Some(path) => {
                        let methods = routes.entry(path.to_owned()).or_default();
                        methods.extend(methods_named(args));
                        if methods.is_empty() {
                            problems.push(format!("{name}: `{call}` of {path} names no method"));
                        }
                    }
                    // `web` routes its asset table; those paths are read below.
                    None if is_web && call == ".route(" => {}
                    None => problems.push(format!(
                        "{name}: `{call}{}` has no literal path; route it with `routes!` instead",
                        args.lines().next().unwrap_or("")
                    )),
                }
            }
        }
        if is_web {
            for (at, _) in text.match_indices("asset!(") {
                if let Some(path) = leading_literal(call_arguments(&text, at + "asset!(".len())) {
                    routes
                        .entry(path.to_owned())
                        .or_default()
                        .insert("get".into());
                }
            }
        }
    }
    (routes, problems)
}

#[tokio::test]
async fn the_document_lists_every_route_the_router_has() {
    let app = spawn_app(base_config()).await;
    let reply = app.get("/api/openapi.json", None).await;
    assert_eq!(reply.status, 200);
    let doc: &Value = &reply.body;
    assert_eq!(doc["openapi"].as_str().map(|v| &v[..4]), Some("3.1."));
    let paths = doc["paths"].as_object().expect("paths");

    let (routes, mut problems) = routes_in_sources();
    assert!(
        routes.contains_key("/") && routes.contains_key("/client/loginguard-client.js"),
        "the source scan found the web page's routes: {routes:?}"
    );
    for (path, methods) in &routes {
        for method in methods {
            if paths.get(path).and_then(|item| item.get(method)).is_none() {
                problems.push(format!(
                    "{} {path} is routed but not in the document",
                    method.to_uppercase()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // The other way: every path of the document is routed. A method the
    // path does not take gets the router's 405, an unknown path its 404.
    for (path, item) in paths {
        let unused = METHODS.iter().find(|m| item.get(**m).is_none());
        let Some(method) = unused else { continue };
        let concrete = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let reply = app.request(method.clone(), &concrete, None, None).await;
        assert_eq!(
            reply.status, 405,
            "{method} {concrete}: {path} is in the document but not routed ({})",
            reply.body
        );
    }
}

#[tokio::test]
async fn cookie_mode_documents_the_cookie() {
    let mut config = base_config();
    config.http.cookie = Some("lg_session".into());
    let app = spawn_app(config).await;
    let doc = app.get("/api/openapi.json", None).await.body;
    let scheme = &doc["components"]["securitySchemes"]["session_cookie"];
    assert_eq!(scheme["in"], "cookie");
    assert_eq!(scheme["name"], "lg_session");
    let security = &doc["paths"]["/api/auth/sessions"]["get"]["security"];
    assert_eq!(
        security,
        &serde_json::json!([{"session_token": []}, {"session_cookie": []}])
    );

    let plain = spawn_app(base_config()).await;
    let doc = plain.get("/api/openapi.json", None).await.body;
    assert!(doc["components"]["securitySchemes"]
        .get("session_cookie")
        .is_none());
}

#[tokio::test]
async fn every_stable_error_code_is_listed() {
    let app = spawn_app(base_config()).await;
    let doc = app.get("/api/openapi.json", None).await.body;
    let codes: BTreeSet<&str> = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("ErrorCode is an enum")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    // PROTOCOL.md's error table.
    for code in [
        "bad_request",
        "unsupported_media_type",
        "invalid_credentials",
        "unauthorized",
        "session_revoked",
        "session_expired",
        "forbidden",
        "not_found",
        "method_not_allowed",
        "request_timeout",
        "session_limit_reached",
        "payload_too_large",
        "uri_too_long",
        "rate_limited",
        "headers_too_large",
        "store_unavailable",
        "internal",
        // Beyond the table: signing everyone out without `?confirm=all`.
        "confirmation_required",
    ] {
        assert!(codes.contains(code), "{code} missing from {codes:?}");
    }
    // And a real error answer uses the documented shape.
    let reply = app.get("/api/auth/session", None).await;
    let error = reply.error(401, "unauthorized");
    assert!(error["message"].is_string());
}
