//! File objects cached in Redis in front of the catalog, for several instances sharing one
//! PostgreSQL: [`CachedCatalog`] answers `get_file` from Redis when it can and passes every other
//! call through, invalidating the file's entry after each call that changes its row.
//!
//! A stale status is never served to a request that starts after a change has been answered:
//! - only files at rest are cached (`pending`, `completed`, `failed`, `quarantined`); a file in
//!   flight (`uploading`, `queued`, `processing`) is always read from the catalog, so progress
//!   writes need no invalidation;
//! - every change that can take a file out of rest (enqueue, delete, a job's outcome) bumps the
//!   file's generation and deletes its entry before it returns;
//! - a reader fills the cache only if the generation it saw before reading the catalog is still
//!   the current one (one Lua script, atomic in Redis), so a slow reader cannot put back what a
//!   change just removed;
//! - when Redis cannot be told, the id is remembered and retried every second until it can,
//!   and this instance reads that file from the catalog meanwhile.
//!
//! Keys: `file-processing:file:{id}` (the row as JSON, `redis.cache_ttl`) and
//! `file-processing:filegen:{id}` (the generation, twice that TTL).

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;

use super::{
    Catalog, CatalogResult, ClaimedJob, FileFilter, FileRecord, FinishedUpload, JobFailure,
    NewFile, NewUpload, Quarantine, ResultRecord, StoredResult, UploadPart, UploadRecord,
};
use crate::cache::KEY_PREFIX;

/// How long a Redis call may take before the cache is skipped.
const REDIS_TIMEOUT: Duration = Duration::from_millis(500);

/// Statuses whose rows are cached: only a change through this catalog moves a file out of them.
const AT_REST: [&str; 4] = ["pending", "completed", "failed", "quarantined"];

/// Sets the entry only if the generation is still the one the reader saw.
const FILL_SCRIPT: &str = r"
if (redis.call('GET', KEYS[2]) or '0') == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0";

/// Bumps the generation (kept twice the entry TTL) and drops the entry.
const INVALIDATE_SCRIPT: &str = r"
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1])
return 1";

/// The Redis side: entries, generations, and the ids whose invalidation is owed.
#[derive(Clone)]
pub struct FileCache {
    conn: ConnectionManager,
    ttl: Duration,
    /// Key prefix: [`KEY_PREFIX`] in service, a unique one per test.
    prefix: Arc<str>,
    owed: Arc<Mutex<HashSet<String>>>,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl FileCache {
    /// A cache in Redis at `url` whose entries live `ttl`, under the keys
    /// `file-processing:file:*`; connects lazily.
    ///
    /// # Errors
    /// The URL is not a Redis URL.
    pub fn redis(url: &str, ttl: Duration) -> redis::RedisResult<Self> {
        Self::with_prefix(url, ttl, KEY_PREFIX)
    }

    /// As [`FileCache::redis`], with keys under `prefix` instead (tests share one Redis).
    ///
    /// # Errors
    /// The URL is not a Redis URL.
    pub fn with_prefix(url: &str, ttl: Duration, prefix: &str) -> redis::RedisResult<Self> {
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(1);
        let conn = redis::Client::open(url)?.get_connection_manager_lazy(config)?;
        let cache = FileCache {
            conn,
            ttl,
            prefix: prefix.into(),
            owed: Arc::default(),
        };
        tokio::spawn(repay(cache.clone()));
        Ok(cache)
    }

    fn entry_key(&self, id: &str) -> String {
        format!("{}file:{id}", self.prefix)
    }

    fn generation_key(&self, id: &str) -> String {
        format!("{}filegen:{id}", self.prefix)
    }

    fn is_owed(&self, id: &str) -> bool {
        self.owed.lock().map_or(true, |owed| owed.contains(id))
    }

    /// The cached row and, on a miss, the generation to fill with; `None` when Redis is away
    /// or this id's invalidation is owed (read the catalog and do not fill).
    pub async fn lookup(&self, id: &str) -> Option<Result<FileRecord, String>> {
        if self.is_owed(id) {
            return None;
        }
        let mut conn = self.conn.clone();
        let got: redis::RedisResult<(Option<Vec<u8>>, Option<String>)> = redis::pipe()
            .get(self.entry_key(id))
            .get(self.generation_key(id))
            .query_async(&mut conn)
            .await;
        match got {
            Ok((Some(bytes), _)) => match serde_json::from_slice(&bytes) {
                Ok(file) => Some(Ok(file)),
                Err(_) => Some(Err("0".to_owned())),
            },
            Ok((None, generation)) => Some(Err(generation.unwrap_or_else(|| "0".to_owned()))),
            Err(e) => {
                tracing::debug!(error = %e, "file cache read failed; reading the catalog");
                None
            }
        }
    }

    /// Cache `file` if it is at rest and the generation is still `generation`.
    pub async fn fill(&self, file: &FileRecord, generation: &str) -> bool {
        if !AT_REST.contains(&file.status.as_str()) || self.is_owed(&file.id) {
            return false;
        }
        let Ok(json) = serde_json::to_string(file) else {
            return false;
        };
        let mut conn = self.conn.clone();
        let filled: redis::RedisResult<i64> = redis::Script::new(FILL_SCRIPT)
            .key(self.entry_key(&file.id))
            .key(self.generation_key(&file.id))
            .arg(generation)
            .arg(json)
            .arg(millis(self.ttl))
            .invoke_async(&mut conn)
            .await;
        matches!(filled, Ok(1))
    }

    /// Drop `id`'s entry and bump its generation; if Redis cannot be told, owe it.
    pub async fn invalidate(&self, id: &str) {
        if !self.try_invalidate(id).await
            && let Ok(mut owed) = self.owed.lock()
        {
            owed.insert(id.to_owned());
        }
    }

    async fn try_invalidate(&self, id: &str) -> bool {
        let mut conn = self.conn.clone();
        let done: redis::RedisResult<i64> = redis::Script::new(INVALIDATE_SCRIPT)
            .key(self.entry_key(id))
            .key(self.generation_key(id))
            .arg(millis(self.ttl * 2))
            .invoke_async(&mut conn)
            .await;
        if let Err(e) = &done {
            tracing::warn!(file.id = %id, error = %e, "file cache invalidation failed; retrying until Redis answers");
        }
        done.is_ok()
    }
}

/// Retry owed invalidations every second, for as long as the cache exists.
async fn repay(cache: FileCache) {
    let FileCache {
        conn,
        ttl,
        prefix,
        owed,
    } = cache;
    let weak = Arc::downgrade(&owed);
    drop(owed);
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Some(owed) = weak.upgrade() else { return };
        let ids: Vec<String> = owed
            .lock()
            .map(|o| o.iter().cloned().collect())
            .unwrap_or_default();
        let cache = FileCache {
            conn: conn.clone(),
            ttl,
            prefix: Arc::clone(&prefix),
            owed: Arc::clone(&owed),
        };
        for id in ids {
            if cache.try_invalidate(&id).await
                && let Ok(mut owed) = owed.lock()
            {
                owed.remove(&id);
            }
        }
    }
}

/// A catalog whose file reads go through a [`FileCache`].
pub struct CachedCatalog {
    inner: Arc<dyn Catalog>,
    files: FileCache,
    /// Where hits and misses are counted (`cache="file"`), when the service counts them.
    metrics: Option<crate::metrics::Metrics>,
}

impl CachedCatalog {
    /// `inner` with its file rows cached in `files`.
    pub fn new(inner: Arc<dyn Catalog>, files: FileCache) -> Self {
        CachedCatalog {
            inner,
            files,
            metrics: None,
        }
    }

    /// The same, counting each lookup as a hit or a miss (Redis away: a miss) in `metrics`.
    pub fn observed(mut self, metrics: &crate::metrics::Metrics) -> Self {
        self.metrics = Some(metrics.clone());
        self
    }

    async fn read(&self, id: &str) -> CatalogResult<FileRecord> {
        let found = self.files.lookup(id).await;
        if let Some(metrics) = &self.metrics {
            let hit = matches!(found, Some(Ok(_)));
            metrics.cache_lookup(crate::metrics::CacheName::File, hit);
        }
        match found {
            Some(Ok(file)) => Ok(file),
            Some(Err(generation)) => {
                let file = self.inner.get_file_by_id(id).await?;
                self.files.fill(&file, &generation).await;
                Ok(file)
            }
            None => self.inner.get_file_by_id(id).await,
        }
    }
}

#[async_trait]
impl Catalog for CachedCatalog {
    async fn migrate(&self) -> CatalogResult<()> {
        self.inner.migrate().await
    }
    async fn migrate_down(&self) -> CatalogResult<Option<i64>> {
        self.inner.migrate_down().await
    }
    async fn ping(&self) -> CatalogResult<()> {
        self.inner.ping().await
    }
    async fn subscribe_jobs(&self) -> CatalogResult<Option<broadcast::Receiver<()>>> {
        self.inner.subscribe_jobs().await
    }
    async fn insert_file(
        &self,
        file: &NewFile,
        enqueue: Option<u32>,
    ) -> CatalogResult<Option<String>> {
        self.inner.insert_file(file, enqueue).await
    }
    async fn get_file(&self, owner: &str, id: &str) -> CatalogResult<FileRecord> {
        let file = self.read(id).await?;
        if file.owner != owner {
            return Err(super::CatalogError::NotFound);
        }
        Ok(file)
    }
    async fn get_file_by_id(&self, id: &str) -> CatalogResult<FileRecord> {
        self.read(id).await
    }
    async fn list_files(&self, owner: &str, filter: &FileFilter) -> CatalogResult<Vec<FileRecord>> {
        self.inner.list_files(owner, filter).await
    }
    async fn delete_file(&self, owner: &str, id: &str) -> CatalogResult<FileRecord> {
        let deleted = self.inner.delete_file(owner, id).await;
        self.files.invalidate(id).await;
        deleted
    }
    async fn set_progress(&self, id: &str, progress: f64, step: &str) -> CatalogResult<()> {
        // Only a file in `processing` changes, and those are never cached.
        self.inner.set_progress(id, progress, step).await
    }
    async fn enqueue(
        &self,
        owner: &str,
        file_id: &str,
        max_attempts: u32,
        options: &serde_json::Value,
    ) -> CatalogResult<String> {
        let job = self
            .inner
            .enqueue(owner, file_id, max_attempts, options)
            .await;
        self.files.invalidate(file_id).await;
        job
    }
    async fn queued_jobs(&self) -> CatalogResult<u64> {
        self.inner.queued_jobs().await
    }
    async fn claim_job(&self, worker: &str, lease: Duration) -> CatalogResult<Option<ClaimedJob>> {
        let job = self.inner.claim_job(worker, lease).await?;
        if let Some(job) = &job {
            self.files.invalidate(&job.file_id).await;
        }
        Ok(job)
    }
    async fn renew_lease(
        &self,
        job_id: &str,
        worker: &str,
        lease: Duration,
    ) -> CatalogResult<bool> {
        self.inner.renew_lease(job_id, worker, lease).await
    }
    async fn complete_job(
        &self,
        job: &ClaimedJob,
        worker: &str,
        result: &StoredResult,
    ) -> CatalogResult<bool> {
        let done = self.inner.complete_job(job, worker, result).await;
        self.files.invalidate(&job.file_id).await;
        done
    }
    async fn fail_job(
        &self,
        job: &ClaimedJob,
        worker: &str,
        failure: &JobFailure,
    ) -> CatalogResult<()> {
        let done = self.inner.fail_job(job, worker, failure).await;
        self.files.invalidate(&job.file_id).await;
        done
    }
    async fn release_job(&self, job: &ClaimedJob, worker: &str) -> CatalogResult<()> {
        let done = self.inner.release_job(job, worker).await;
        self.files.invalidate(&job.file_id).await;
        done
    }
    async fn get_result(&self, file_id: &str) -> CatalogResult<ResultRecord> {
        self.inner.get_result(file_id).await
    }
    async fn record_virus_scan(
        &self,
        file_id: &str,
        scan: &serde_json::Value,
    ) -> CatalogResult<()> {
        // Recorded during a job (the file is `processing`, not cached): invalidated all the
        // same, since the call takes any status.
        let done = self.inner.record_virus_scan(file_id, scan).await;
        self.files.invalidate(file_id).await;
        done
    }
    async fn quarantine_job(
        &self,
        job: &ClaimedJob,
        worker: &str,
        quarantine: &Quarantine,
    ) -> CatalogResult<bool> {
        let done = self.inner.quarantine_job(job, worker, quarantine).await;
        self.files.invalidate(&job.file_id).await;
        done
    }
    async fn insert_quarantined(
        &self,
        file: &NewFile,
        quarantine: &Quarantine,
    ) -> CatalogResult<()> {
        // A new row, so nothing of it is cached; invalidated all the same, as every change is.
        let done = self.inner.insert_quarantined(file, quarantine).await;
        self.files.invalidate(&file.id).await;
        done
    }
    // Uploads: their files are `uploading`, never cached, until `finish_upload` moves them to
    // `pending` or `queued`; the invalidation there is for safety, not need.
    async fn create_upload(&self, upload: &NewUpload) -> CatalogResult<()> {
        self.inner.create_upload(upload).await
    }
    async fn get_upload(&self, owner: &str, upload_id: &str) -> CatalogResult<UploadRecord> {
        self.inner.get_upload(owner, upload_id).await
    }
    async fn get_upload_by_file(&self, owner: &str, file_id: &str) -> CatalogResult<UploadRecord> {
        self.inner.get_upload_by_file(owner, file_id).await
    }
    async fn put_upload_part(
        &self,
        part: &UploadPart,
        expires_at: i64,
    ) -> CatalogResult<Option<String>> {
        self.inner.put_upload_part(part, expires_at).await
    }
    async fn list_upload_parts(&self, upload_id: &str) -> CatalogResult<Vec<UploadPart>> {
        self.inner.list_upload_parts(upload_id).await
    }
    async fn lock_upload(
        &self,
        upload_id: &str,
        token: &str,
        lease: Duration,
    ) -> CatalogResult<UploadRecord> {
        self.inner.lock_upload(upload_id, token, lease).await
    }
    async fn renew_upload_lock(
        &self,
        upload_id: &str,
        token: &str,
        lease: Duration,
    ) -> CatalogResult<bool> {
        self.inner.renew_upload_lock(upload_id, token, lease).await
    }
    async fn unlock_upload(&self, upload_id: &str, token: &str) -> CatalogResult<()> {
        self.inner.unlock_upload(upload_id, token).await
    }
    async fn append_upload_segment(
        &self,
        upload_id: &str,
        token: &str,
        part: Option<&UploadPart>,
        length: Option<i64>,
        expires_at: i64,
    ) -> CatalogResult<UploadRecord> {
        self.inner
            .append_upload_segment(upload_id, token, part, length, expires_at)
            .await
    }
    async fn finish_upload(
        &self,
        upload_id: &str,
        token: &str,
        facts: &FinishedUpload,
        enqueue: Option<u32>,
    ) -> CatalogResult<Option<String>> {
        self.inner
            .finish_upload(upload_id, token, facts, enqueue)
            .await
    }
    async fn quarantine_upload(
        &self,
        upload: &UploadRecord,
        token: &str,
        facts: &FinishedUpload,
        quarantine: &Quarantine,
    ) -> CatalogResult<()> {
        let done = self
            .inner
            .quarantine_upload(upload, token, facts, quarantine)
            .await;
        self.files.invalidate(&upload.file_id).await;
        done
    }
    async fn delete_upload(&self, upload_id: &str) -> CatalogResult<UploadRecord> {
        let upload = self.inner.delete_upload(upload_id).await?;
        self.files.invalidate(&upload.file_id).await;
        Ok(upload)
    }
    async fn expired_uploads(&self, now: i64, limit: i64) -> CatalogResult<Vec<UploadRecord>> {
        self.inner.expired_uploads(now, limit).await
    }
}
