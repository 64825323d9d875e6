//! `/health` (the process answers) and `/ready` (its dependencies answer: catalog, blob store,
//! cache, workers, and clamd when virus scanning is on; the body says which one is down). A
//! cache or a clamd that is down leaves the instance ready but `degraded`: it still serves what
//! it stores, and jobs wait for clamd (retried with backoff) rather than go unscanned.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::state::AppState;

/// The routes of this group.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
}

async fn health() -> Json<Value> {
    Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

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
