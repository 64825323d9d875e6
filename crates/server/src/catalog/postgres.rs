//! The PostgreSQL catalog: for several instances sharing one database. Same statements and
//! semantics as [`super::SqliteCatalog`]; what differs is concurrency. PostgreSQL runs writers in
//! parallel, so:
//! - a claim locks the oldest runnable job with `FOR UPDATE SKIP LOCKED` inside the `UPDATE`:
//!   concurrent claimers skip each other's rows and two workers can never take the same job;
//! - `enqueue` locks the file row (`FOR NO KEY UPDATE`) before checking for an active job, and a
//!   partial unique index keeps at most one queued or running job per file;
//! - writes that make a job runnable send `pg_notify('fileproc_jobs', '')` in their transaction,
//!   so workers of every instance can wake at once ([`Catalog::subscribe_jobs`]);
//! - upload writes that read first lock the upload row (`FOR UPDATE`), so concurrent parts and
//!   locks take turns; those that also change the file row lock it before the upload row, the
//!   order in which `delete_file`'s cascade reaches them, so the two cannot deadlock.

use async_trait::async_trait;
use sqlx::postgres::{PgListener, PgPoolOptions};
// Dynamic SQL here only splices the constants FILE_COLUMNS and UPLOAD_COLUMNS; values are always
// bound.
use sqlx::{AssertSqlSafe, PgPool, Row};
use std::time::Duration;
use tokio::sync::{OnceCell, broadcast};
use tokio_util::sync::CancellationToken;

use super::{
    Catalog, CatalogError, CatalogResult, ClaimedJob, Close, FileFilter, FileRecord,
    FinishedUpload, JobFailure, NewFile, NewUpload, Quarantine, ResultRecord, StoredResult,
    UploadPart, UploadRecord, now_ms,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// The channel job notifications are sent on.
const JOBS_CHANNEL: &str = "fileproc_jobs";

const FILE_COLUMNS: &str = "id, owner, filename, file_type, content_type, size, sha256, status, \
    progress, step, message, purpose, metadata, storage_key, error_code, error_message, \
    uploaded_at, processed_at, updated_at, virus_scan, compressed_size";

/// The columns of [`UploadRecord`]; `offset` is a keyword, hence quoted.
const UPLOAD_COLUMNS: &str = "id, file_id, owner, kind, length, chunk_size, \"offset\", \
    auto_process, upload_metadata, lock_token, lock_expires_at, expires_at, created_at, updated_at";

/// The catalog in a PostgreSQL database.
pub struct PostgresCatalog {
    pool: PgPool,
    /// Job notifications, started by the first [`Catalog::subscribe_jobs`].
    jobs: OnceCell<broadcast::Sender<()>>,
    /// Stops the notification listener when the catalog is dropped.
    stop: CancellationToken,
}

impl PostgresCatalog {
    /// Connect to the database at `url` with a pool of at most `max_connections`, waiting at
    /// most `acquire_timeout` for a connection.
    ///
    /// # Errors
    /// The URL is invalid or the database cannot be reached.
    pub async fn connect(
        url: &str,
        max_connections: u32,
        acquire_timeout: std::time::Duration,
    ) -> CatalogResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(acquire_timeout)
            .connect(url)
            .await?;
        Ok(Self::from_pool(pool))
    }

    /// Use an already configured pool.
    pub fn from_pool(pool: PgPool) -> Self {
        PostgresCatalog {
            pool,
            jobs: OnceCell::new(),
            stop: CancellationToken::new(),
        }
    }

    /// Start listening on [`JOBS_CHANNEL`] on a connection of its own (not taken from the
    /// catalog's pool), forwarding every notification to the returned sender.
    async fn start_listener(&self) -> CatalogResult<broadcast::Sender<()>> {
        // One dedicated connection, with the same options as the catalog's pool.
        let options = (*self.pool.connect_options()).clone();
        let listener_pool = PgPoolOptions::new()
            .max_connections(1)
            .connect_lazy_with(options);
        let mut listener = PgListener::connect_with(&listener_pool).await?;
        listener.listen(JOBS_CHANNEL).await?;
        let (tx, _) = broadcast::channel(16);
        let sender = tx.clone();
        let stop = self.stop.clone();
        tokio::spawn(async move {
            loop {
                let received = tokio::select! {
                    () = stop.cancelled() => break,
                    received = listener.try_recv() => received,
                };
                match received {
                    Ok(Some(_)) => {}
                    // The connection was lost and is re-established: notifications sent meanwhile
                    // are gone, so wake the workers to look.
                    Ok(None) => tracing::warn!("job notifications: connection lost, reconnected"),
                    Err(e) => {
                        tracing::warn!(error = %e, "job notifications: listening failed; retrying");
                        tokio::select! {
                            () = stop.cancelled() => break,
                            () = tokio::time::sleep(Duration::from_secs(1)) => {}
                        }
                    }
                }
                // No receivers is fine: nobody waits right now.
                let _ = sender.send(());
            }
            // The listener's connection first: closing the pool waits for it.
            drop(listener);
            listener_pool.close().await;
        });
        Ok(tx)
    }
}

impl Drop for PostgresCatalog {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Tell listening workers (any instance) that a job may be runnable; delivered on commit.
async fn notify_jobs(tx: &mut sqlx::PgConnection) -> CatalogResult<()> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(JOBS_CHANNEL)
        .execute(tx)
        .await?;
    Ok(())
}

#[async_trait]
impl Catalog for PostgresCatalog {
    async fn migrate(&self) -> CatalogResult<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    async fn migrate_down(&self) -> CatalogResult<Option<i64>> {
        let applied = super::latest_applied_migration(
            sqlx::query_scalar(super::LATEST_MIGRATION_SQL)
                .fetch_one(&self.pool)
                .await,
        )?;
        let Some(latest) = applied else {
            return Ok(None);
        };
        MIGRATOR
            .undo(&self.pool, super::previous_migration(&MIGRATOR, latest))
            .await?;
        Ok(Some(latest))
    }

    async fn ping(&self) -> CatalogResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn subscribe_jobs(&self) -> CatalogResult<Option<broadcast::Receiver<()>>> {
        let sender = self.jobs.get_or_try_init(|| self.start_listener()).await?;
        Ok(Some(sender.subscribe()))
    }

    async fn insert_file(
        &self,
        f: &NewFile,
        enqueue: Option<u32>,
    ) -> CatalogResult<Option<String>> {
        let now = now_ms();
        let status = if enqueue.is_some() {
            "queued"
        } else {
            "pending"
        };
        let mut tx = self.pool.begin().await?;
        insert_file_row(&mut tx, f, status, now).await?;
        let job_id = match enqueue {
            Some(max_attempts) => {
                let id = uuid::Uuid::now_v7().to_string();
                insert_job(&mut tx, &id, &f.id, max_attempts, "{}", now).await?;
                notify_jobs(&mut tx).await?;
                Some(id)
            }
            None => None,
        };
        tx.commit().await?;
        Ok(job_id)
    }

    async fn get_file(&self, owner: &str, id: &str) -> CatalogResult<FileRecord> {
        let sql = format!("SELECT {FILE_COLUMNS} FROM files WHERE id = $1 AND owner = $2");
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(id)
            .bind(owner)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn get_file_by_id(&self, id: &str) -> CatalogResult<FileRecord> {
        let sql = format!("SELECT {FILE_COLUMNS} FROM files WHERE id = $1");
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(id)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn list_files(&self, owner: &str, q: &FileFilter) -> CatalogResult<Vec<FileRecord>> {
        let sql = format!(
            "SELECT {FILE_COLUMNS} FROM files WHERE owner = $1 \
             AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR file_type = $3) \
             AND ($4::text IS NULL OR id < $4) ORDER BY id DESC LIMIT $5"
        );
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(owner)
            .bind(&q.status)
            .bind(&q.file_type)
            .bind(&q.cursor)
            .bind(q.limit)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn delete_file(&self, owner: &str, id: &str) -> CatalogResult<FileRecord> {
        let sql =
            format!("DELETE FROM files WHERE id = $1 AND owner = $2 RETURNING {FILE_COLUMNS}");
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(id)
            .bind(owner)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn set_progress(&self, id: &str, progress: f64, step: &str) -> CatalogResult<()> {
        sqlx::query(
            "UPDATE files SET progress = $1, step = $2, updated_at = $3 \
             WHERE id = $4 AND status = 'processing'",
        )
        .bind(progress)
        .bind(step)
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn enqueue(
        &self,
        owner: &str,
        file_id: &str,
        max_attempts: u32,
        options: &serde_json::Value,
    ) -> CatalogResult<String> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        // The row lock serializes concurrent enqueues of one file, so the check below holds until
        // commit. NO KEY UPDATE: it does not block the foreign-key checks of other writers.
        let file =
            sqlx::query("SELECT status FROM files WHERE id = $1 AND owner = $2 FOR NO KEY UPDATE")
                .bind(file_id)
                .bind(owner)
                .fetch_one(&mut *tx)
                .await?;
        let status: String = file.try_get("status")?;
        if matches!(status.as_str(), "uploading" | "quarantined") {
            return Err(CatalogError::Conflict(format!("the file is {status}")));
        }
        let active: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE file_id = $1 AND status IN ('queued', 'running')",
        )
        .bind(file_id)
        .fetch_one(&mut *tx)
        .await?;
        if active > 0 {
            return Err(CatalogError::Conflict(
                "the file is already queued or processing".into(),
            ));
        }
        let id = uuid::Uuid::now_v7().to_string();
        insert_job(
            &mut tx,
            &id,
            file_id,
            max_attempts,
            &options.to_string(),
            now,
        )
        .await?;
        sqlx::query(
            "UPDATE files SET status = 'queued', progress = 0, step = NULL, message = NULL, \
             error_code = NULL, error_message = NULL, processed_at = NULL, updated_at = $1 \
             WHERE id = $2",
        )
        .bind(now)
        .bind(file_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM results WHERE file_id = $1")
            .bind(file_id)
            .execute(&mut *tx)
            .await?;
        notify_jobs(&mut tx).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn queued_jobs(&self) -> CatalogResult<u64> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM jobs WHERE status = 'queued'")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn claim_job(&self, worker: &str, lease: Duration) -> CatalogResult<Option<ClaimedJob>> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        // SKIP LOCKED: a job another claimer is taking right now is passed over, never shared.
        // A row changed since this statement's snapshot is re-checked against the WHERE once
        // locked, so a job just claimed (and committed) by another worker is not taken again.
        let mut job: Option<ClaimedJob> = sqlx::query_as(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_owner = $1, \
             lease_expires_at = $2, updated_at = $3 \
             WHERE id = (SELECT id FROM jobs \
                 WHERE (status = 'queued' AND run_at <= $3) \
                    OR (status = 'running' AND lease_expires_at < $3) \
                 ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
             RETURNING id, file_id, attempts, max_attempts, options, trace_context",
        )
        .bind(worker)
        .bind(now + ms(lease))
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(job) = &mut job {
            // The file is still `processing` only when the job's last worker died holding it
            // (a retry, a hand-back and a new job all leave it `queued`).
            let before: Option<(String,)> =
                sqlx::query_as("SELECT status FROM files WHERE id = $1")
                    .bind(&job.file_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            job.lease_expired = before.is_some_and(|(status,)| status == "processing");
            sqlx::query(
                "UPDATE files SET status = 'processing', progress = 0, step = 'validation', \
                 message = NULL, updated_at = $1 WHERE id = $2",
            )
            .bind(now)
            .bind(&job.file_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(job)
    }

    async fn renew_lease(
        &self,
        job_id: &str,
        worker: &str,
        lease: Duration,
    ) -> CatalogResult<bool> {
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE jobs SET lease_expires_at = $1, updated_at = $2 \
             WHERE id = $3 AND lease_owner = $4 AND status = 'running'",
        )
        .bind(now + ms(lease))
        .bind(now)
        .bind(job_id)
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn complete_job(
        &self,
        job: &ClaimedJob,
        worker: &str,
        r: &StoredResult,
    ) -> CatalogResult<bool> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let held = sqlx::query(
            "UPDATE jobs SET status = 'completed', lease_owner = NULL, lease_expires_at = NULL, \
             error_code = NULL, error_message = NULL, updated_at = $1 \
             WHERE id = $2 AND lease_owner = $3 AND status = 'running'",
        )
        .bind(now)
        .bind(&job.id)
        .bind(worker)
        .execute(&mut *tx)
        .await?;
        if held.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO results (file_id, result, records_key, records_index, records_count, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (file_id) DO UPDATE SET result = excluded.result, \
             records_key = excluded.records_key, records_index = excluded.records_index, \
             records_count = excluded.records_count, created_at = excluded.created_at",
        )
        .bind(&job.file_id)
        .bind(r.result.to_string())
        .bind(&r.records_key)
        .bind(serde_json::to_string(&r.records_index)?)
        .bind(r.records_count)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE files SET status = 'completed', progress = 1, step = 'complete', message = NULL, \
             error_code = NULL, error_message = NULL, processed_at = $1, updated_at = $1 \
             WHERE id = $2",
        )
        .bind(now)
        .bind(&job.file_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn fail_job(&self, job: &ClaimedJob, worker: &str, f: &JobFailure) -> CatalogResult<()> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let (job_status, file_status, run_at, processed_at) = match f.retry_in {
            Some(delay) => ("queued", "queued", now + ms(delay), None),
            None => ("failed", "failed", now, Some(now)),
        };
        let held = sqlx::query(
            "UPDATE jobs SET status = $1, run_at = $2, lease_owner = NULL, lease_expires_at = NULL, \
             error_code = $3, error_message = $4, updated_at = $5 \
             WHERE id = $6 AND lease_owner = $7 AND status = 'running'",
        )
        .bind(job_status)
        .bind(run_at)
        .bind(&f.code)
        .bind(&f.message)
        .bind(now)
        .bind(&job.id)
        .bind(worker)
        .execute(&mut *tx)
        .await?;
        if held.rows_affected() == 1 {
            let message = f.retry_in.map(|d| {
                format!(
                    "attempt {} failed ({}); retrying in {} ms",
                    job.attempts,
                    f.code,
                    d.as_millis()
                )
            });
            // processed_at is set when the file fails for good, kept when it is re-queued.
            sqlx::query(
                "UPDATE files SET status = $1, message = $2, error_code = $3, error_message = $4, \
                 processed_at = COALESCE($5, processed_at), updated_at = $6 \
                 WHERE id = $7",
            )
            .bind(file_status)
            .bind(message)
            .bind(&f.code)
            .bind(&f.message)
            .bind(processed_at)
            .bind(now)
            .bind(&job.file_id)
            .execute(&mut *tx)
            .await?;
            if f.retry_in.is_some() {
                notify_jobs(&mut tx).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn release_job(&self, job: &ClaimedJob, worker: &str) -> CatalogResult<()> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        // The interrupted attempt does not count against the job's attempts.
        let held = sqlx::query(
            "UPDATE jobs SET status = 'queued', attempts = attempts - 1, run_at = $1, \
             lease_owner = NULL, lease_expires_at = NULL, updated_at = $1 \
             WHERE id = $2 AND lease_owner = $3 AND status = 'running'",
        )
        .bind(now)
        .bind(&job.id)
        .bind(worker)
        .execute(&mut *tx)
        .await?;
        if held.rows_affected() == 1 {
            sqlx::query(
                "UPDATE files SET status = 'queued', progress = 0, updated_at = $1 WHERE id = $2",
            )
            .bind(now)
            .bind(&job.file_id)
            .execute(&mut *tx)
            .await?;
            // Another instance may take the handed-back job at once.
            notify_jobs(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn get_result(&self, file_id: &str) -> CatalogResult<ResultRecord> {
        Ok(sqlx::query_as(
            "SELECT file_id, result, records_key, records_index, records_count, created_at \
             FROM results WHERE file_id = $1",
        )
        .bind(file_id)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn record_virus_scan(
        &self,
        file_id: &str,
        scan: &serde_json::Value,
    ) -> CatalogResult<()> {
        let done = sqlx::query("UPDATE files SET virus_scan = $1, updated_at = $2 WHERE id = $3")
            .bind(scan.to_string())
            .bind(now_ms())
            .bind(file_id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(CatalogError::NotFound);
        }
        Ok(())
    }

    async fn quarantine_job(
        &self,
        job: &ClaimedJob,
        worker: &str,
        q: &Quarantine,
    ) -> CatalogResult<bool> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let held = sqlx::query(
            "UPDATE jobs SET status = 'failed', lease_owner = NULL, lease_expires_at = NULL, \
             error_code = 'quarantined', error_message = $1, updated_at = $2 \
             WHERE id = $3 AND lease_owner = $4 AND status = 'running'",
        )
        .bind(&q.message)
        .bind(now)
        .bind(&job.id)
        .bind(worker)
        .execute(&mut *tx)
        .await?;
        if held.rows_affected() != 1 {
            return Ok(false);
        }
        quarantine_file_row(&mut tx, &job.file_id, q, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn insert_quarantined(&self, f: &NewFile, q: &Quarantine) -> CatalogResult<()> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        insert_file_row(&mut tx, f, "quarantined", now).await?;
        quarantine_file_row(&mut tx, &f.id, q, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_upload(&self, u: &NewUpload) -> CatalogResult<()> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        insert_file_row(&mut tx, &u.file, "uploading", now).await?;
        sqlx::query(
            "INSERT INTO uploads (id, file_id, owner, kind, length, chunk_size, \"offset\", \
             auto_process, upload_metadata, expires_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9, $10, $10)",
        )
        .bind(&u.id)
        .bind(&u.file.id)
        .bind(&u.file.owner)
        .bind(u.kind.as_str())
        .bind(u.length)
        .bind(u.chunk_size)
        .bind(u.auto_process)
        .bind(&u.upload_metadata)
        .bind(u.expires_at)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_upload(&self, owner: &str, upload_id: &str) -> CatalogResult<UploadRecord> {
        let sql = format!("SELECT {UPLOAD_COLUMNS} FROM uploads WHERE id = $1 AND owner = $2");
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(upload_id)
            .bind(owner)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn get_upload_by_file(&self, owner: &str, file_id: &str) -> CatalogResult<UploadRecord> {
        let sql = format!("SELECT {UPLOAD_COLUMNS} FROM uploads WHERE file_id = $1 AND owner = $2");
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(file_id)
            .bind(owner)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn put_upload_part(
        &self,
        part: &UploadPart,
        expires_at: i64,
    ) -> CatalogResult<Option<String>> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        // The upload's row lock makes concurrent puts (and a lock being taken) take turns, so
        // each put sees, and returns, the key the previous one stored; and no part is added
        // after a completion took the lock and listed the parts.
        let locked: bool = sqlx::query_scalar(
            "SELECT lock_token IS NOT NULL AND lock_expires_at > $2 FROM uploads WHERE id = $1 \
             FOR UPDATE",
        )
        .bind(&part.upload_id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        if locked {
            return Err(CatalogError::Conflict(
                "another request holds the upload's lock".into(),
            ));
        }
        let replaced: Option<String> = sqlx::query_scalar(
            "SELECT storage_key FROM upload_parts WHERE upload_id = $1 AND part_number = $2",
        )
        .bind(&part.upload_id)
        .bind(part.part_number)
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO upload_parts (upload_id, part_number, size, etag, storage_key, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (upload_id, part_number) DO UPDATE SET size = excluded.size, \
             etag = excluded.etag, storage_key = excluded.storage_key, \
             created_at = excluded.created_at",
        )
        .bind(&part.upload_id)
        .bind(part.part_number)
        .bind(part.size)
        .bind(&part.etag)
        .bind(&part.storage_key)
        .bind(part.created_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE uploads SET \"offset\" = \
             (SELECT COALESCE(SUM(size), 0) FROM upload_parts WHERE upload_id = $1), \
             expires_at = $2, updated_at = $3 WHERE id = $1",
        )
        .bind(&part.upload_id)
        .bind(expires_at)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        // A part stored again under the same key replaced no blob: nothing to delete.
        Ok(replaced.filter(|key| *key != part.storage_key))
    }

    async fn list_upload_parts(&self, upload_id: &str) -> CatalogResult<Vec<UploadPart>> {
        Ok(sqlx::query_as(
            "SELECT upload_id, part_number, size, etag, storage_key, created_at \
             FROM upload_parts WHERE upload_id = $1 ORDER BY part_number",
        )
        .bind(upload_id)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn lock_upload(
        &self,
        upload_id: &str,
        token: &str,
        lease: Duration,
    ) -> CatalogResult<UploadRecord> {
        let now = now_ms();
        // One conditional UPDATE: a concurrent lock waits for the row and re-checks the
        // condition against the row as the other left it.
        let sql = format!(
            "UPDATE uploads SET lock_token = $1, lock_expires_at = $2 \
             WHERE id = $3 AND (lock_token IS NULL OR lock_expires_at <= $4 OR lock_token = $1) \
             RETURNING {UPLOAD_COLUMNS}"
        );
        let mut conn = self.pool.acquire().await?;
        let locked: Option<UploadRecord> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(token)
            .bind(now.saturating_add(ms(lease)))
            .bind(upload_id)
            .bind(now)
            .fetch_optional(&mut *conn)
            .await?;
        match locked {
            Some(upload) => Ok(upload),
            None => Err(missing_or_locked(&mut conn, upload_id).await?),
        }
    }

    async fn renew_upload_lock(
        &self,
        upload_id: &str,
        token: &str,
        lease: Duration,
    ) -> CatalogResult<bool> {
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE uploads SET lock_expires_at = $1 WHERE id = $2 AND lock_token = $3",
        )
        .bind(now.saturating_add(ms(lease)))
        .bind(upload_id)
        .bind(token)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn unlock_upload(&self, upload_id: &str, token: &str) -> CatalogResult<()> {
        sqlx::query(
            "UPDATE uploads SET lock_token = NULL, lock_expires_at = NULL \
             WHERE id = $1 AND lock_token = $2",
        )
        .bind(upload_id)
        .bind(token)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn append_upload_segment(
        &self,
        upload_id: &str,
        token: &str,
        part: Option<&UploadPart>,
        length: Option<i64>,
        expires_at: i64,
    ) -> CatalogResult<UploadRecord> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let holder: Option<String> =
            sqlx::query_scalar("SELECT lock_token FROM uploads WHERE id = $1 FOR UPDATE")
                .bind(upload_id)
                .fetch_one(&mut *tx)
                .await?;
        // The same token still holds a lapsed lock as long as nobody else took it.
        if holder.as_deref() != Some(token) {
            return Err(CatalogError::Conflict(
                "the request no longer holds the upload's lock".into(),
            ));
        }
        let added = match part {
            Some(p) => {
                sqlx::query(
                    "INSERT INTO upload_parts (upload_id, part_number, size, etag, storage_key, \
                     created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(upload_id)
                .bind(p.part_number)
                .bind(p.size)
                .bind(&p.etag)
                .bind(&p.storage_key)
                .bind(p.created_at)
                .execute(&mut *tx)
                .await?;
                p.size
            }
            None => 0,
        };
        let sql = format!(
            "UPDATE uploads SET \"offset\" = \"offset\" + $1, length = COALESCE(length, $2), \
             expires_at = $3, updated_at = $4, lock_token = NULL, lock_expires_at = NULL \
             WHERE id = $5 RETURNING {UPLOAD_COLUMNS}"
        );
        let upload: UploadRecord = sqlx::query_as(AssertSqlSafe(sql))
            .bind(added)
            .bind(length)
            .bind(expires_at)
            .bind(now)
            .bind(upload_id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(upload)
    }

    async fn finish_upload(
        &self,
        upload_id: &str,
        token: &str,
        facts: &FinishedUpload,
        enqueue: Option<u32>,
    ) -> CatalogResult<Option<String>> {
        let close = match enqueue {
            Some(max_attempts) => Close::Enqueue(max_attempts),
            None => Close::Pending,
        };
        self.close_upload(upload_id, token, facts, close).await
    }

    async fn quarantine_upload(
        &self,
        upload: &UploadRecord,
        token: &str,
        facts: &FinishedUpload,
        quarantine: &Quarantine,
    ) -> CatalogResult<()> {
        self.close_upload(&upload.id, token, facts, Close::Quarantine(quarantine))
            .await
            .map(|_| ())
    }

    async fn delete_upload(&self, upload_id: &str) -> CatalogResult<UploadRecord> {
        let mut tx = self.pool.begin().await?;
        // File row first, then upload row, as in `finish_upload`.
        let file_id: String = sqlx::query_scalar("SELECT file_id FROM uploads WHERE id = $1")
            .bind(upload_id)
            .fetch_one(&mut *tx)
            .await?;
        let file_status: String =
            sqlx::query_scalar("SELECT status FROM files WHERE id = $1 FOR UPDATE")
                .bind(&file_id)
                .fetch_one(&mut *tx)
                .await?;
        // A file that left `uploading` is not an upload's to delete (its blob may be live).
        if file_status != "uploading" {
            return Err(CatalogError::Conflict(format!("the file is {file_status}")));
        }
        let sql = format!("DELETE FROM uploads WHERE id = $1 RETURNING {UPLOAD_COLUMNS}");
        let upload: UploadRecord = sqlx::query_as(AssertSqlSafe(sql))
            .bind(upload_id)
            .fetch_one(&mut *tx)
            .await?;
        // The parts went with the upload (ON DELETE CASCADE).
        sqlx::query("DELETE FROM files WHERE id = $1")
            .bind(&file_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(upload)
    }

    async fn expired_uploads(&self, now: i64, limit: i64) -> CatalogResult<Vec<UploadRecord>> {
        let sql = format!(
            "SELECT {UPLOAD_COLUMNS} FROM uploads \
             WHERE expires_at < $1 AND (lock_token IS NULL OR lock_expires_at <= $1) \
             ORDER BY expires_at, id LIMIT $2"
        );
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }
}

impl PostgresCatalog {
    /// What [`Catalog::finish_upload`] and [`Catalog::quarantine_upload`] share: under the lock,
    /// write the facts, move the file out of `uploading` as `close` says, drop the upload rows.
    async fn close_upload(
        &self,
        upload_id: &str,
        token: &str,
        facts: &FinishedUpload,
        close: Close<'_>,
    ) -> CatalogResult<Option<String>> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        // Rows are locked file first, then upload, the order in which `delete_file` reaches
        // them through its cascade: the other order could deadlock with it.
        let file_id: String = sqlx::query_scalar("SELECT file_id FROM uploads WHERE id = $1")
            .bind(upload_id)
            .fetch_one(&mut *tx)
            .await?;
        // NO KEY UPDATE: the job inserted below checks its foreign key against this row.
        let file_status: String =
            sqlx::query_scalar("SELECT status FROM files WHERE id = $1 FOR NO KEY UPDATE")
                .bind(&file_id)
                .fetch_one(&mut *tx)
                .await?;
        let holder: Option<String> =
            sqlx::query_scalar("SELECT lock_token FROM uploads WHERE id = $1 FOR UPDATE")
                .bind(upload_id)
                .fetch_one(&mut *tx)
                .await?;
        if holder.as_deref() != Some(token) {
            return Err(CatalogError::Conflict(
                "the request no longer holds the upload's lock".into(),
            ));
        }
        if file_status != "uploading" {
            return Err(CatalogError::Conflict(format!("the file is {file_status}")));
        }
        let status = match close {
            Close::Enqueue(_) => "queued",
            Close::Pending => "pending",
            Close::Quarantine(_) => "quarantined",
        };
        sqlx::query(
            "UPDATE files SET file_type = $1, content_type = $2, size = $3, sha256 = $4, \
             status = $5, uploaded_at = $6, updated_at = $6, compressed_size = $8 WHERE id = $7",
        )
        .bind(&facts.file_type)
        .bind(&facts.content_type)
        .bind(facts.size)
        .bind(&facts.sha256)
        .bind(status)
        .bind(now)
        .bind(&file_id)
        .bind(facts.compressed_size)
        .execute(&mut *tx)
        .await?;
        let job_id = match close {
            Close::Enqueue(max_attempts) => {
                let id = uuid::Uuid::now_v7().to_string();
                insert_job(&mut tx, &id, &file_id, max_attempts, "{}", now).await?;
                notify_jobs(&mut tx).await?;
                Some(id)
            }
            Close::Pending => None,
            Close::Quarantine(q) => {
                quarantine_file_row(&mut tx, &file_id, q, now).await?;
                None
            }
        };
        sqlx::query("DELETE FROM upload_parts WHERE upload_id = $1")
            .bind(upload_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM uploads WHERE id = $1")
            .bind(upload_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(job_id)
    }
}

/// Mark a file `quarantined` with its scan and error (in the caller's transaction).
async fn quarantine_file_row(
    tx: &mut sqlx::PgConnection,
    file_id: &str,
    q: &Quarantine,
    now: i64,
) -> CatalogResult<()> {
    sqlx::query(
        "UPDATE files SET status = 'quarantined', step = 'virus_scan', message = NULL, \
         virus_scan = $1, error_code = 'quarantined', error_message = $2, processed_at = $3, \
         updated_at = $3 WHERE id = $4",
    )
    .bind(q.virus_scan.to_string())
    .bind(&q.message)
    .bind(now)
    .bind(file_id)
    .execute(tx)
    .await?;
    Ok(())
}

/// Insert a file row with `status`, uploaded and updated `now`.
async fn insert_file_row(
    tx: &mut sqlx::PgConnection,
    f: &NewFile,
    status: &str,
    now: i64,
) -> CatalogResult<()> {
    sqlx::query(
        "INSERT INTO files (id, owner, filename, file_type, content_type, size, sha256, status, \
         purpose, metadata, storage_key, uploaded_at, updated_at, compressed_size) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13)",
    )
    .bind(&f.id)
    .bind(&f.owner)
    .bind(&f.filename)
    .bind(&f.file_type)
    .bind(&f.content_type)
    .bind(f.size)
    .bind(&f.sha256)
    .bind(status)
    .bind(&f.purpose)
    .bind(f.metadata.to_string())
    .bind(&f.storage_key)
    .bind(now)
    .bind(f.compressed_size)
    .execute(tx)
    .await?;
    Ok(())
}

/// Why a statement conditional on an upload's lock changed nothing: the upload is gone
/// ([`CatalogError::NotFound`]) or another request holds its lock ([`CatalogError::Conflict`]).
async fn missing_or_locked(
    conn: &mut sqlx::PgConnection,
    upload_id: &str,
) -> CatalogResult<CatalogError> {
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM uploads WHERE id = $1")
        .bind(upload_id)
        .fetch_optional(conn)
        .await?;
    Ok(match exists {
        Some(_) => CatalogError::Conflict("another request holds the upload's lock".into()),
        None => CatalogError::NotFound,
    })
}

async fn insert_job(
    tx: &mut sqlx::PgConnection,
    id: &str,
    file_id: &str,
    max_attempts: u32,
    options: &str,
    now: i64,
) -> CatalogResult<()> {
    sqlx::query(
        "INSERT INTO jobs (id, file_id, status, max_attempts, run_at, options, trace_context, \
         created_at, updated_at) VALUES ($1, $2, 'queued', $3, $4, $5, $6, $4, $4)",
    )
    .bind(id)
    .bind(file_id)
    .bind(i64::from(max_attempts))
    .bind(now)
    .bind(options)
    // The job joins the trace of the request that queues it.
    .bind(crate::telemetry::current_trace_context())
    .execute(tx)
    .await?;
    Ok(())
}
