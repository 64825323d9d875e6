//! The cache of finished results: in process (moka) on one machine, Redis when several instances
//! share the work. Always a cache, never the truth: a miss reads the catalog; every change of a
//! file's result (re-process, completion, delete) invalidates its entry; and when Redis is
//! away, every call degrades to a miss (logged, shown by `/ready`) and nothing fails because of
//! it.
//!
//! Redis keys are `file-processing:result:{file_id}`, with the TTL `redis.cache_ttl`.

use moka::future::Cache as Moka;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::sync::Arc;
use std::time::Duration;

/// The prefix of every Redis key fileproc writes.
pub const KEY_PREFIX: &str = "file-processing:";

/// How long a Redis call may take before it counts as a miss.
const REDIS_TIMEOUT: Duration = Duration::from_millis(500);

/// Results by file id.
#[derive(Clone)]
pub enum ResultCache {
    /// In this process, bounded by the results' serialized size.
    Memory(Moka<String, Arc<serde_json::Value>>),
    /// In Redis, shared by every instance.
    Redis {
        conn: ConnectionManager,
        ttl: Duration,
    },
}

impl ResultCache {
    /// An in-process cache holding about `max_bytes` of results.
    pub fn memory(max_bytes: u64) -> Self {
        let results = Moka::builder()
            .weigher(|_k: &String, v: &Arc<serde_json::Value>| {
                u32::try_from(v.to_string().len()).unwrap_or(u32::MAX)
            })
            .max_capacity(max_bytes)
            .build();
        ResultCache::Memory(results)
    }

    /// A Redis cache at `url` whose entries live `ttl`. The connection is made lazily and
    /// re-made in the background when lost.
    ///
    /// # Errors
    /// The URL is not a Redis URL.
    pub fn redis(url: &str, ttl: Duration) -> redis::RedisResult<Self> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(1);
        let conn = client.get_connection_manager_lazy(config)?;
        Ok(ResultCache::Redis { conn, ttl })
    }

    fn key(file_id: &str) -> String {
        format!("{KEY_PREFIX}result:{file_id}")
    }

    /// The cached result of a file; `None` on a miss or when the cache is unreachable.
    pub async fn get(&self, file_id: &str) -> Option<Arc<serde_json::Value>> {
        match self {
            ResultCache::Memory(m) => m.get(file_id).await,
            ResultCache::Redis { conn, .. } => {
                let mut conn = conn.clone();
                let got: redis::RedisResult<Option<Vec<u8>>> = conn.get(Self::key(file_id)).await;
                match got {
                    Ok(Some(bytes)) => serde_json::from_slice(&bytes).ok().map(Arc::new),
                    Ok(None) => None,
                    Err(e) => {
                        tracing::warn!(error = %e, "cache read failed; reading the catalog");
                        None
                    }
                }
            }
        }
    }

    /// Remember a file's result.
    pub async fn put(&self, file_id: &str, result: Arc<serde_json::Value>) {
        match self {
            ResultCache::Memory(m) => m.insert(file_id.to_owned(), result).await,
            ResultCache::Redis { conn, ttl } => {
                let Ok(bytes) = serde_json::to_vec(&*result) else {
                    return;
                };
                let mut conn = conn.clone();
                let set: redis::RedisResult<()> = conn
                    .set_ex(Self::key(file_id), bytes, ttl.as_secs().max(1))
                    .await;
                if let Err(e) = set {
                    tracing::warn!(error = %e, "cache write failed");
                }
            }
        }
    }

    /// Forget a file's result.
    pub async fn invalidate(&self, file_id: &str) {
        match self {
            ResultCache::Memory(m) => m.invalidate(file_id).await,
            ResultCache::Redis { conn, .. } => {
                let mut conn = conn.clone();
                let del: redis::RedisResult<()> = conn.del(Self::key(file_id)).await;
                if let Err(e) = del {
                    tracing::warn!(error = %e, "cache invalidation failed");
                }
            }
        }
    }

    /// What `/ready` shows: the kind, and whether it answers.
    ///
    /// # Errors
    /// Redis does not answer.
    pub async fn ping(&self) -> Result<&'static str, String> {
        match self {
            ResultCache::Memory(_) => Ok("in-process"),
            ResultCache::Redis { conn, .. } => {
                let mut conn = conn.clone();
                let pong: redis::RedisResult<String> =
                    redis::cmd("PING").query_async(&mut conn).await;
                pong.map(|_| "redis").map_err(|e| e.to_string())
            }
        }
    }
}
