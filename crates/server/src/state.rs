//! What every handler and worker shares.

use std::sync::Arc;

use crate::auth::Authenticator;
use crate::blob::BlobStore;
use crate::cache::ResultCache;
use crate::catalog::Catalog;
use crate::config::Settings;
use crate::events::EventBus;
use crate::metrics::Metrics;
use crate::queue::QueueHandle;
use crate::ratelimit::RateLimits;

/// The shared state: cheap to clone, everything behind `Arc`.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub catalog: Arc<dyn Catalog>,
    pub blobs: BlobStore,
    pub cache: ResultCache,
    pub queue: QueueHandle,
    /// Progress events to and from every instance.
    pub events: EventBus,
    /// Open WebSocket and SSE connections, at most `websocket.max_connections`.
    pub connections: Arc<tokio::sync::Semaphore>,
    /// Who is calling (`security.auth`).
    pub auth: Arc<Authenticator>,
    /// Requests per client IP and owner (`security.rate_limit`).
    pub rate_limits: Arc<RateLimits>,
    /// This service's Prometheus metrics (its own recorder, see [`crate::metrics`]).
    pub metrics: Metrics,
}

/// The one owner of every file when `security.auth.mode` is `none`.
pub const DEFAULT_OWNER: &str = "default";
