//! The cache: finished results, in process (moka). Always a cache, never the truth: a miss reads
//! the catalog, and every change of a file's result (re-process, delete) invalidates its entry.

use moka::future::Cache as Moka;
use std::sync::Arc;

/// Results by file id, bounded by their serialized size.
#[derive(Clone)]
pub struct ResultCache {
    results: Moka<String, Arc<serde_json::Value>>,
}

impl ResultCache {
    /// A cache holding about `max_bytes` of results.
    pub fn new(max_bytes: u64) -> Self {
        let results = Moka::builder()
            .weigher(|_k: &String, v: &Arc<serde_json::Value>| {
                u32::try_from(v.to_string().len()).unwrap_or(u32::MAX)
            })
            .max_capacity(max_bytes)
            .build();
        ResultCache { results }
    }

    /// The cached result of a file.
    pub async fn get(&self, file_id: &str) -> Option<Arc<serde_json::Value>> {
        self.results.get(file_id).await
    }

    /// Remember a file's result.
    pub async fn put(&self, file_id: &str, result: Arc<serde_json::Value>) {
        self.results.insert(file_id.to_owned(), result).await;
    }

    /// Forget a file's result.
    pub async fn invalidate(&self, file_id: &str) {
        self.results.invalidate(file_id).await;
    }
}
