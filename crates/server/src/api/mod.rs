//! The HTTP API (`DESIGN.md` section 2): one module per route group, each with its `router()`.

pub mod download;
pub mod error;
pub mod extract;
pub mod files;
pub mod health;
pub mod images;
pub mod progress;
pub mod records;
pub mod tus;
pub mod uploads;
pub mod view;

use axum::Router;
use tower_http::trace::TraceLayer;

use crate::state::AppState;

/// The whole API over `state`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(files::router(&state))
        .merge(uploads::router())
        .merge(tus::router())
        .merge(download::router())
        .merge(records::router())
        .merge(images::router())
        .merge(health::router())
        .merge(progress::router())
        .fallback(|| async { error::ApiError::NotFound("route") })
        .method_not_allowed_fallback(|| async { error::ApiError::MethodNotAllowed })
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
