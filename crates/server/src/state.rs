//! What every handler and worker shares.

use std::sync::Arc;

use crate::blob::BlobStore;
use crate::cache::ResultCache;
use crate::catalog::Catalog;
use crate::config::Settings;
use crate::queue::QueueHandle;

/// The shared state: cheap to clone, everything behind `Arc`.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub catalog: Arc<dyn Catalog>,
    pub blobs: BlobStore,
    pub cache: ResultCache,
    pub queue: QueueHandle,
}

/// The one owner of every file until auth arrives (`security.auth.mode = none`).
pub const DEFAULT_OWNER: &str = "default";
