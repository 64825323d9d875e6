//! The OpenAPI document and the router may not drift: every operation the document lists is
//! served, every method the server answers on a documented path is documented, routes are only
//! registered through the document (`routes!`), the document is valid 3.1 with every `$ref`
//! resolving, and `/docs` serves the Swagger UI.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{TestApp, TestStack};

/// Every operation the server serves, as `METHOD path`: the contract. A route added or removed
/// must be added or removed here too (and in the document, which `routes!` does by itself).
const EXPECTED: &[&str] = &[
    "GET /",
    "GET /assets/{file}",
    "GET /api-docs/openapi.json",
    "GET /api/v1/files",
    "GET /api/v1/files/{file_id}",
    "DELETE /api/v1/files/{file_id}",
    "GET /api/v1/files/{file_id}/converted",
    "GET /api/v1/files/{file_id}/optimized",
    "GET /api/v1/files/{file_id}/download",
    "GET /api/v1/files/{file_id}/events",
    "POST /api/v1/files/{file_id}/process",
    "GET /api/v1/files/{file_id}/records",
    "GET /api/v1/files/{file_id}/result",
    "GET /api/v1/files/{file_id}/status",
    "GET /api/v1/files/{file_id}/thumbnail",
    "POST /api/v1/files/upload",
    "POST /api/v1/files/upload/init",
    "DELETE /api/v1/files/upload/{file_id}",
    "PUT /api/v1/files/upload/{file_id}/chunk",
    "POST /api/v1/files/upload/{file_id}/complete",
    "GET /api/v1/files/upload/{file_id}/parts",
    "POST /api/v1/tus",
    "OPTIONS /api/v1/tus",
    "POST /api/v1/tus/",
    "OPTIONS /api/v1/tus/",
    "HEAD /api/v1/tus/{file_id}",
    "PATCH /api/v1/tus/{file_id}",
    "DELETE /api/v1/tus/{file_id}",
    "OPTIONS /api/v1/tus/{file_id}",
    "GET /docs",
    "GET /docs/",
    "GET /docs/{file}",
    "GET /health",
    "GET /metrics",
    "GET /ready",
    "GET /ws",
];

const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

async fn document(app: &TestApp) -> Value {
    let response = app
        .client
        .get(app.url("/api-docs/openapi.json"))
        .send()
        .await
        .expect("GET the document");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/json");
    response.json().await.expect("the document is JSON")
}

/// The document's operations as `METHOD path`.
fn operations(doc: &Value) -> BTreeSet<String> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method.to_ascii_lowercase()).is_some() {
                ops.insert(format!("{method} {path}"));
            }
        }
    }
    ops
}

/// `path` with each `{parameter}` filled in with a value of the right shape.
fn concrete(path: &str) -> String {
    path.replace("{file_id}", "0192f0c4-1d2e-7c3b-9a1d-6f0e2b7c8d90")
        .replace("{file}", "swagger-ui.css")
}

/// Whether a response is one of the router's fallbacks: no route for the path (404 "route not
/// found"), or no handler for the method (405).
async fn is_fallback(response: reqwest::Response) -> (u16, bool) {
    let status = response.status().as_u16();
    if status == 405 {
        return (status, true);
    }
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (
        status,
        status == 404 && body["error"] == "route not found" && body["code"] == "not_found",
    )
}

#[tokio::test]
async fn the_document_lists_exactly_the_served_operations() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let doc = document(&app).await;
    let expected: BTreeSet<String> = EXPECTED.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(operations(&doc), expected);
    app.stop().await;
}

#[tokio::test]
async fn every_documented_operation_is_served() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let doc = document(&app).await;
    let ops = operations(&doc);
    assert_eq!(ops.len(), EXPECTED.len());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for op in &ops {
        let (method, path) = op.split_once(' ').unwrap();
        let response = client
            .request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                app.url(&concrete(path)),
            )
            .header("tus-resumable", "1.0.0")
            .send()
            .await
            .expect("request");
        let (status, fallback) = is_fallback(response).await;
        assert!(
            !fallback,
            "{op} fell through to the router's fallback ({status})"
        );
        // What the server answered is documented for it (or it is a 404 for the missing file).
        let method_key = method.to_ascii_lowercase();
        let documented = &doc["paths"][path][&method_key]["responses"];
        assert!(
            documented.get(status.to_string()).is_some(),
            "{op} answered {status}, not among its documented responses {documented}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn no_undocumented_method_is_served_on_a_documented_path() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let doc = document(&app).await;
    let ops = operations(&doc);
    let paths: BTreeSet<&str> = ops.iter().map(|op| op.split_once(' ').unwrap().1).collect();
    let mut checked = 0;
    for path in paths {
        for method in METHODS {
            // HEAD on a GET route is the GET without its body (RFC 9110), served by axum.
            if ops.contains(&format!("{method} {path}"))
                || (method == "HEAD" && ops.contains(&format!("GET {path}")))
            {
                continue;
            }
            let response = app
                .client
                .request(
                    Method::from_bytes(method.as_bytes()).unwrap(),
                    app.url(&concrete(path)),
                )
                .header("tus-resumable", "1.0.0")
                .send()
                .await
                .expect("request");
            assert_eq!(
                response.status(),
                405,
                "{method} {path} is served but not in the document"
            );
            checked += 1;
        }
    }
    // 30 paths, 7 methods each, 36 documented operations, 21 GETs (with their implicit HEAD).
    assert_eq!(checked, 30 * 7 - 36 - 21);
    app.stop().await;
}

/// Routes are registered only through `OpenApiRouter::routes(routes!(...))`, which puts each in
/// the document: no plain axum `.route(...)`, `.nest(...)` or `Router::new()` anywhere in the
/// API or in the application's wiring. A router that is not the API (say, a second listener
/// for metrics alone) says so on the line: `// not in the API document: <why>`.
#[test]
fn routes_are_only_registered_through_the_document() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![src.join("app.rs"), src.join("auth.rs")];
    for dir in ["api", "metrics"] {
        for entry in std::fs::read_dir(src.join(dir)).expect("a source directory") {
            files.push(entry.expect("entry").path());
        }
    }
    let forbidden = [
        ".route(",
        ".route_service(",
        ".nest(",
        ".nest_service(",
        "Router::new()",
        "routing::get(",
        "routing::post(",
    ];
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("source");
        for (n, line) in text.lines().enumerate() {
            for pattern in forbidden {
                let line = line.replace("OpenApiRouter::new()", "");
                let exempt = line.contains("// not in the API document: ");
                if line.contains(pattern) && !line.trim_start().starts_with("//") && !exempt {
                    found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(files.len() > 10, "{files:?}");
    assert!(
        found.is_empty(),
        "routes outside the document:\n{}",
        found.join("\n")
    );
}

/// Every `"$ref"` in `value`.
fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_every_ref_resolves() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let doc = document(&app).await;
    let version = doc["openapi"].as_str().expect("openapi");
    assert!(version.starts_with("3.1."), "{version}");
    assert_eq!(doc["info"]["title"], "fileproc");
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(all.len() > 50, "only {} $refs", all.len());
    for r in &all {
        let pointer = r.strip_prefix('#').expect("a local $ref");
        assert!(doc.pointer(pointer).is_some(), "$ref {r} does not resolve");
    }
    // The error shape, and every error response uses it.
    let error = &doc["components"]["schemas"]["ErrorBody"];
    assert_eq!(error["required"], serde_json::json!(["error", "code"]));
    // The security schemes, and every /api/v1 or /ws operation asks for them.
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["api_key"]["name"], "X-API-Key");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    let mut protected = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let secured = op.get("security").is_some();
            let tus_options = method == "options" && path.starts_with("/api/v1/tus");
            if (path.starts_with("/api/v1/") || path == "/ws") && !tus_options {
                assert!(secured, "{method} {path} has no security");
                protected += 1;
            } else {
                assert!(
                    !secured,
                    "{method} {path} is open but says it needs credentials"
                );
            }
            for (status, response) in op["responses"].as_object().unwrap() {
                let code: u16 = status.parse().expect("a status");
                // `/ready` answers 503 with its checks and the error shape's fields in one.
                let shape = if path == "/ready" {
                    "Readiness"
                } else {
                    "ErrorBody"
                };
                if code >= 400
                    && let Some(json) = response["content"].get("application/json")
                {
                    assert_eq!(
                        json["schema"]["$ref"],
                        format!("#/components/schemas/{shape}").as_str(),
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }
    assert_eq!(protected, 24);
    app.stop().await;
}

#[tokio::test]
async fn docs_serves_the_swagger_ui_over_the_document() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/docs/");

    let (status, content_type, body) = app.get_bytes("/docs/").await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = String::from_utf8(body).unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    // Every script the page loads is served, as JavaScript.
    let scripts: Vec<&str> = html
        .split("<script src=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .collect();
    assert!(scripts.contains(&"./swagger-ui-bundle.js"), "{scripts:?}");
    for script in &scripts {
        let name = script.trim_start_matches("./");
        let (status, content_type, body) = app.get_bytes(&format!("/docs/{name}")).await;
        assert_eq!(status, 200, "{name}");
        assert!(
            content_type.contains("javascript"),
            "{name}: {content_type}"
        );
        assert!(body.len() > 100, "{name}: {} bytes", body.len());
    }
    // The initializer points the page at the document.
    let (_, _, init) = app.get_bytes("/docs/swagger-initializer.js").await;
    assert!(
        String::from_utf8(init)
            .unwrap()
            .contains("/api-docs/openapi.json"),
        "the page does not load the document"
    );
    let (status, _, _) = app.get_bytes("/docs/no-such-file.js").await;
    assert_eq!(status, 404);
    app.stop().await;
}

#[tokio::test]
async fn the_document_is_public_when_auth_is_on() {
    let stack = TestStack::new().await;
    let keys = format!("alice:{}", fileproc::auth::hash_key("key-alice"));
    let app = TestApp::start(&stack, &[("AUTH_MODE", "api_key"), ("API_KEYS", &keys)]).await;
    assert_eq!(app.get_json("/api-docs/openapi.json").await.0, 200);
    assert_eq!(app.get_bytes("/docs/").await.0, 200);
    assert_eq!(app.get_json("/api/v1/files").await.0, 401);
    app.stop().await;
}

#[tokio::test]
async fn operations_that_depend_on_settings_are_documented_only_when_served() {
    let stack = TestStack::new().await;
    // Profiling on: the profile is documented, protected like the API, and served.
    let app = TestApp::start(&stack, &[("MONITORING_PPROF_ENABLED", "true")]).await;
    let doc = document(&app).await;
    let ops = operations(&doc);
    assert!(ops.contains("GET /debug/pprof/profile"), "{ops:?}");
    assert_eq!(ops.len(), EXPECTED.len() + 1);
    let profile = &doc["paths"]["/debug/pprof/profile"]["get"];
    assert!(profile["security"].is_array(), "{profile}");
    assert!(profile["responses"]["200"]["content"]["application/octet-stream"].is_object());
    let (status, _) = app.get_json("/debug/pprof/profile?seconds=0").await;
    assert_eq!(status, 400, "served, and its parameter checked");
    app.stop().await;

    // Metrics on their own port: /metrics leaves the main port and its document.
    let app = TestApp::start(&stack, &[("METRICS_PORT", "0")]).await;
    let ops = operations(&document(&app).await);
    assert!(!ops.contains("GET /metrics"), "{ops:?}");
    assert!(!ops.contains("GET /debug/pprof/profile"), "{ops:?}");
    assert_eq!(ops.len(), EXPECTED.len() - 1);
    let (status, body) = app.get_json("/metrics").await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    app.stop().await;
}
