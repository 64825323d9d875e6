//! `/health` (the process answers) and `/ready` (its dependencies answer: catalog, blob store,
//! cache, workers, and clamd when virus scanning is on; the body says which one is down). A
//! cache or a clamd that is down leaves the instance ready but `degraded`: it still serves what
//! it stores, and jobs wait for clamd (retried with backoff) rather than go unscanned.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// The routes of this group.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
}

/// The answer to `/health`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"status": "ok", "version": "0.1.0"}))]
struct Health {
    /// Always `ok`.
    status: &'static str,
    /// The server's version.
    version: &'static str,
}

/// Liveness: the process answers (nothing else is checked).
#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    responses((status = 200, description = "Alive", body = Health)),
)]
async fn health() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// One dependency's check in `/ready`.
#[derive(ToSchema)]
#[allow(dead_code)] // Built with `json!` by `ready`; here for the document.
struct Check {
    ok: bool,
    /// Why it is not ok.
    error: Option<String>,
    /// `cache`: `in-process` or `redis`.
    kind: Option<String>,
    /// `workers`: running worker tasks.
    alive: Option<u64>,
    /// `workers`: `processing.worker_count`.
    configured: Option<u64>,
    /// `virus_scanner`: clamd's host:port.
    address: Option<String>,
    /// `virus_scanner`: clamd's version.
    version: Option<String>,
}

/// The checks of `/ready`, by name.
#[derive(ToSchema)]
#[allow(dead_code)] // Built with `json!` by `ready`; here for the document.
struct Checks {
    catalog: Check,
    blob_store: Check,
    cache: Check,
    workers: Check,
    /// Only with `security.virus_scanning`.
    virus_scanner: Option<Check>,
}

/// The answer to `/ready`.
#[derive(ToSchema)]
#[allow(dead_code)] // Built with `json!` by `ready`; here for the document.
#[schema(example = json!({"status": "ready", "checks": {
    "catalog": {"ok": true}, "blob_store": {"ok": true}, "cache": {"ok": true, "kind": "in-process"},
    "workers": {"ok": true, "alive": 4, "configured": 4}}}))]
struct Readiness {
    /// `ready`, `degraded` (the cache or clamd is down: still serving) or `not_ready`.
    status: String,
    checks: Checks,
    /// `not_ready` only: the error shape's message.
    error: Option<String>,
    /// `not_ready` only: `not_ready`.
    code: Option<String>,
}

/// Readiness: the catalog, blob store, cache, workers (and clamd when scanning) answer.
#[utoipa::path(
    get,
    path = "/ready",
    tag = "operations",
    responses(
        (status = 200, description = "Ready, or degraded (the cache or clamd is down)", body = Readiness),
        (status = 503, description = "A dependency is not ready (`not_ready`); `checks` says which", body = Readiness),
    ),
)]
async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let catalog = state.catalog.ping().await.map_err(|e| e.to_string());
    let blobs = state.blobs.ping().await.map_err(|e| e.to_string());
    let cache = state.cache.ping().await;
    let scanner = match crate::scan::Scanner::from_settings(&state.settings.security) {
        Some(scanner) => Some(scanner.check().await.map_err(|e| e.to_string())),
        None => None,
    };
    let workers = state.queue.alive();
    let wanted = state.settings.processing.worker_count as usize;
    let check = |r: &Result<(), String>| match r {
        Ok(()) => json!({"ok": true}),
        Err(e) => json!({"ok": false, "error": e}),
    };
    let mut checks = json!({
        "catalog": check(&catalog),
        "blob_store": check(&blobs),
        "cache": match &cache {
            Ok(kind) => json!({"ok": true, "kind": kind}),
            Err(e) => json!({"ok": false, "kind": "redis", "error": e}),
        },
        "workers": {"ok": workers == wanted, "alive": workers, "configured": wanted},
    });
    if let (Some(scanner), Some(obj)) = (&scanner, checks.as_object_mut()) {
        let settings = &state.settings.security;
        let address = format!("{}:{}", settings.clamav_host, settings.clamav_port);
        let check = match scanner {
            Ok(version) => json!({"ok": true, "address": address, "version": version}),
            Err(e) => json!({"ok": false, "address": address, "error": e}),
        };
        obj.insert("virus_scanner".to_owned(), check);
    }
    let scanner_ok = scanner.as_ref().is_none_or(Result::is_ok);
    if catalog.is_ok() && blobs.is_ok() && workers == wanted {
        // The cache is only a cache: without it the instance serves everything (from the
        // catalog), so it stays in rotation and says it is degraded.
        // Nor is clamd: without it, stored files are still served and new ones wait in the
        // queue (never processed unscanned).
        state.metrics.set_ready(true);
        let status = if cache.is_ok() && scanner_ok {
            "ready"
        } else {
            "degraded"
        };
        (
            StatusCode::OK,
            Json(json!({"status": status, "checks": checks})),
        )
    } else {
        state.metrics.set_ready(false);
        let body = json!({
            "status": "not_ready",
            "error": "a dependency of the service is not ready",
            "code": "not_ready",
            "checks": checks,
        });
        (StatusCode::SERVICE_UNAVAILABLE, Json(body))
    }
}
