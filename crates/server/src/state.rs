//! What every handler and worker shares.

use std::sync::Arc;

use crate::blob::BlobStore;
use crate::cache::ResultCache;
use crate::catalog::Catalog;
use crate::config::Settings;
use crate::events::EventBus;
use crate::queue::QueueHandle;

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
}

/// The one owner of every file until auth arrives (`security.auth.mode = none`).
pub const DEFAULT_OWNER: &str = "default";
