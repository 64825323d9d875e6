//! The SQLite catalog: the embedded default. One file, WAL journal, `synchronous=FULL` so that a
//! row acknowledged to a client survives a crash. SQLite has one writer at a time, so a claim is
//! a single `UPDATE ... RETURNING` on the oldest runnable job: two workers can never take the same
//! job.

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
// Dynamic SQL here only splices the constants FILE_COLUMNS and UPLOAD_COLUMNS; values are always
// bound.
use sqlx::{AssertSqlSafe, Row, SqlitePool};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use super::{
    Catalog, CatalogError, CatalogResult, ClaimedJob, Close, FileFilter, FileRecord,
    FinishedUpload, JobFailure, NewFile, NewUpload, Quarantine, ResultRecord, StoredResult,
    UploadPart, UploadRecord, now_ms,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

const FILE_COLUMNS: &str = "id, owner, filename, file_type, content_type, size, sha256, status, \
    progress, step, message, purpose, metadata, storage_key, error_code, error_message, \
    uploaded_at, processed_at, updated_at, virus_scan, compressed_size";

/// The columns of [`UploadRecord`]; `offset` is a keyword, hence quoted.
const UPLOAD_COLUMNS: &str = "id, file_id, owner, kind, length, chunk_size, \"offset\", \
    auto_process, upload_metadata, lock_token, lock_expires_at, expires_at, created_at, updated_at";

/// The catalog in a SQLite database file.
pub struct SqliteCatalog {
    pool: SqlitePool,
}

impl SqliteCatalog {
    /// Open (creating it and its directory if needed) the database at `path`.
    ///
    /// # Errors
    /// The directory cannot be created or the database cannot be opened.
    pub async fn open(path: &Path) -> CatalogResult<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| CatalogError::Database(e.into()))?;
        }
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        Ok(SqliteCatalog { pool })
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[async_trait]
impl Catalog for SqliteCatalog {
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
                Some(id)
            }
            None => None,
        };
        tx.commit().await?;
        Ok(job_id)
    }

    async fn get_file(&self, owner: &str, id: &str) -> CatalogResult<FileRecord> {
        let sql = format!("SELECT {FILE_COLUMNS} FROM files WHERE id = ? AND owner = ?");
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(id)
            .bind(owner)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn get_file_by_id(&self, id: &str) -> CatalogResult<FileRecord> {
        let sql = format!("SELECT {FILE_COLUMNS} FROM files WHERE id = ?");
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(id)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn list_files(&self, owner: &str, q: &FileFilter) -> CatalogResult<Vec<FileRecord>> {
        let sql = format!(
            "SELECT {FILE_COLUMNS} FROM files WHERE owner = ? \
             AND (? IS NULL OR status = ?) AND (? IS NULL OR file_type = ?) \
             AND (? IS NULL OR id < ?) ORDER BY id DESC LIMIT ?"
        );
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(owner)
            .bind(&q.status)
            .bind(&q.status)
            .bind(&q.file_type)
            .bind(&q.file_type)
            .bind(&q.cursor)
            .bind(&q.cursor)
            .bind(q.limit)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn delete_file(&self, owner: &str, id: &str) -> CatalogResult<FileRecord> {
        let sql = format!("DELETE FROM files WHERE id = ? AND owner = ? RETURNING {FILE_COLUMNS}");
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(id)
            .bind(owner)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn set_progress(&self, id: &str, progress: f64, step: &str) -> CatalogResult<()> {
        sqlx::query(
            "UPDATE files SET progress = ?, step = ?, updated_at = ? \
             WHERE id = ? AND status = 'processing'",
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
        // It reads before it writes: take the write lock first (BEGIN IMMEDIATE), or a concurrent
        // writer makes the upgrade fail at once with SQLITE_BUSY instead of waiting.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let file = sqlx::query("SELECT status FROM files WHERE id = ? AND owner = ?")
            .bind(file_id)
            .bind(owner)
            .fetch_one(&mut *tx)
            .await?;
        let status: String = file.try_get("status")?;
        if matches!(status.as_str(), "uploading" | "quarantined") {
            return Err(CatalogError::Conflict(format!("the file is {status}")));
        }
        let active: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE file_id = ? AND status IN ('queued', 'running')",
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
             error_code = NULL, error_message = NULL, processed_at = NULL, updated_at = ? WHERE id = ?",
        )
        .bind(now)
        .bind(file_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM results WHERE file_id = ?")
            .bind(file_id)
            .execute(&mut *tx)
            .await?;
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
        let mut job: Option<ClaimedJob> = sqlx::query_as(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_owner = ?, \
             lease_expires_at = ?, updated_at = ? \
             WHERE id = (SELECT id FROM jobs \
                 WHERE (status = 'queued' AND run_at <= ?) \
                    OR (status = 'running' AND lease_expires_at < ?) \
                 ORDER BY run_at, id LIMIT 1) \
             RETURNING id, file_id, attempts, max_attempts, options, trace_context",
        )
        .bind(worker)
        .bind(now + ms(lease))
        .bind(now)
        .bind(now)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(job) = &mut job {
            // The file is still `processing` only when the job's last worker died holding it
            // (a retry, a hand-back and a new job all leave it `queued`).
            let before: Option<(String,)> = sqlx::query_as("SELECT status FROM files WHERE id = ?")
                .bind(&job.file_id)
                .fetch_optional(&mut *tx)
                .await?;
            job.lease_expired = before.is_some_and(|(status,)| status == "processing");
            sqlx::query(
                "UPDATE files SET status = 'processing', progress = 0, step = 'validation', \
                 message = NULL, updated_at = ? WHERE id = ?",
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
            "UPDATE jobs SET lease_expires_at = ?, updated_at = ? \
             WHERE id = ? AND lease_owner = ? AND status = 'running'",
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
             error_code = NULL, error_message = NULL, updated_at = ? \
             WHERE id = ? AND lease_owner = ? AND status = 'running'",
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
             VALUES (?, ?, ?, ?, ?, ?) \
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
             error_code = NULL, error_message = NULL, processed_at = ?, updated_at = ? WHERE id = ?",
        )
        .bind(now)
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
        let (job_status, file_status, run_at) = match f.retry_in {
            Some(delay) => ("queued", "queued", now + ms(delay)),
            None => ("failed", "failed", now),
        };
        let held = sqlx::query(
            "UPDATE jobs SET status = ?, run_at = ?, lease_owner = NULL, lease_expires_at = NULL, \
             error_code = ?, error_message = ?, updated_at = ? \
             WHERE id = ? AND lease_owner = ? AND status = 'running'",
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
            sqlx::query(
                "UPDATE files SET status = ?, message = ?, error_code = ?, error_message = ?, \
                 processed_at = CASE WHEN ? = 'failed' THEN ? ELSE processed_at END, updated_at = ? \
                 WHERE id = ?",
            )
            .bind(file_status)
            .bind(message)
            .bind(&f.code)
            .bind(&f.message)
            .bind(file_status)
            .bind(now)
            .bind(now)
            .bind(&job.file_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn release_job(&self, job: &ClaimedJob, worker: &str) -> CatalogResult<()> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        // The interrupted attempt does not count against the job's attempts.
        let held = sqlx::query(
            "UPDATE jobs SET status = 'queued', attempts = attempts - 1, run_at = ?, \
             lease_owner = NULL, lease_expires_at = NULL, updated_at = ? \
             WHERE id = ? AND lease_owner = ? AND status = 'running'",
        )
        .bind(now)
        .bind(now)
        .bind(&job.id)
        .bind(worker)
        .execute(&mut *tx)
        .await?;
        if held.rows_affected() == 1 {
            sqlx::query(
                "UPDATE files SET status = 'queued', progress = 0, updated_at = ? WHERE id = ?",
            )
            .bind(now)
            .bind(&job.file_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn get_result(&self, file_id: &str) -> CatalogResult<ResultRecord> {
        Ok(sqlx::query_as(
            "SELECT file_id, result, records_key, records_index, records_count, created_at \
             FROM results WHERE file_id = ?",
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
        let done = sqlx::query("UPDATE files SET virus_scan = ?, updated_at = ? WHERE id = ?")
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
             error_code = 'quarantined', error_message = ?, updated_at = ? \
             WHERE id = ? AND lease_owner = ? AND status = 'running'",
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
             VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)",
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
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_upload(&self, owner: &str, upload_id: &str) -> CatalogResult<UploadRecord> {
        let sql = format!("SELECT {UPLOAD_COLUMNS} FROM uploads WHERE id = ? AND owner = ?");
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(upload_id)
            .bind(owner)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn get_upload_by_file(&self, owner: &str, file_id: &str) -> CatalogResult<UploadRecord> {
        let sql = format!("SELECT {UPLOAD_COLUMNS} FROM uploads WHERE file_id = ? AND owner = ?");
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
        // Reads before it writes, and the write lock makes concurrent puts of one part take
        // turns: each sees (and returns) the key the previous one stored.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let locked: bool = sqlx::query_scalar(
            "SELECT lock_token IS NOT NULL AND lock_expires_at > ? FROM uploads WHERE id = ?",
        )
        .bind(now)
        .bind(&part.upload_id)
        .fetch_one(&mut *tx)
        .await?;
        if locked {
            return Err(CatalogError::Conflict(
                "another request holds the upload's lock".into(),
            ));
        }
        let replaced: Option<String> = sqlx::query_scalar(
            "SELECT storage_key FROM upload_parts WHERE upload_id = ? AND part_number = ?",
        )
        .bind(&part.upload_id)
        .bind(part.part_number)
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO upload_parts (upload_id, part_number, size, etag, storage_key, created_at) \
             VALUES (?, ?, ?, ?, ?, ?) \
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
             (SELECT COALESCE(SUM(size), 0) FROM upload_parts WHERE upload_id = ?), \
             expires_at = ?, updated_at = ? WHERE id = ?",
        )
        .bind(&part.upload_id)
        .bind(expires_at)
        .bind(now)
        .bind(&part.upload_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        // A part stored again under the same key replaced no blob: nothing to delete.
        Ok(replaced.filter(|key| *key != part.storage_key))
    }

    async fn list_upload_parts(&self, upload_id: &str) -> CatalogResult<Vec<UploadPart>> {
        Ok(sqlx::query_as(
            "SELECT upload_id, part_number, size, etag, storage_key, created_at \
             FROM upload_parts WHERE upload_id = ? ORDER BY part_number",
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
        let sql = format!(
            "UPDATE uploads SET lock_token = ?, lock_expires_at = ? \
             WHERE id = ? AND (lock_token IS NULL OR lock_expires_at <= ? OR lock_token = ?) \
             RETURNING {UPLOAD_COLUMNS}"
        );
        let mut conn = self.pool.acquire().await?;
        let locked: Option<UploadRecord> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(token)
            .bind(now.saturating_add(ms(lease)))
            .bind(upload_id)
            .bind(now)
            .bind(token)
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
        let done =
            sqlx::query("UPDATE uploads SET lock_expires_at = ? WHERE id = ? AND lock_token = ?")
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
             WHERE id = ? AND lock_token = ?",
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let holder: Option<String> =
            sqlx::query_scalar("SELECT lock_token FROM uploads WHERE id = ?")
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
                     created_at) VALUES (?, ?, ?, ?, ?, ?)",
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
            "UPDATE uploads SET \"offset\" = \"offset\" + ?, length = COALESCE(length, ?), \
             expires_at = ?, updated_at = ?, lock_token = NULL, lock_expires_at = NULL \
             WHERE id = ? RETURNING {UPLOAD_COLUMNS}"
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let row = sqlx::query(
            "SELECT u.file_id, f.status FROM uploads u JOIN files f ON f.id = u.file_id \
             WHERE u.id = ?",
        )
        .bind(upload_id)
        .fetch_one(&mut *tx)
        .await?;
        let file_id: String = row.try_get("file_id")?;
        let file_status: String = row.try_get("status")?;
        // A file that left `uploading` is not an upload's to delete (its blob may be live).
        if file_status != "uploading" {
            return Err(CatalogError::Conflict(format!("the file is {file_status}")));
        }
        let sql = format!("DELETE FROM uploads WHERE id = ? RETURNING {UPLOAD_COLUMNS}");
        let upload: UploadRecord = sqlx::query_as(AssertSqlSafe(sql))
            .bind(upload_id)
            .fetch_one(&mut *tx)
            .await?;
        // The parts went with the upload (ON DELETE CASCADE).
        sqlx::query("DELETE FROM files WHERE id = ?")
            .bind(&file_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(upload)
    }

    async fn expired_uploads(&self, now: i64, limit: i64) -> CatalogResult<Vec<UploadRecord>> {
        let sql = format!(
            "SELECT {UPLOAD_COLUMNS} FROM uploads \
             WHERE expires_at < ? AND (lock_token IS NULL OR lock_expires_at <= ?) \
             ORDER BY expires_at, id LIMIT ?"
        );
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(now)
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }
}

impl SqliteCatalog {
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let row = sqlx::query(
            "SELECT u.file_id, u.lock_token, f.status FROM uploads u \
             JOIN files f ON f.id = u.file_id WHERE u.id = ?",
        )
        .bind(upload_id)
        .fetch_one(&mut *tx)
        .await?;
        let file_id: String = row.try_get("file_id")?;
        let holder: Option<String> = row.try_get("lock_token")?;
        let file_status: String = row.try_get("status")?;
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
            "UPDATE files SET file_type = ?, content_type = ?, size = ?, sha256 = ?, status = ?, \
             uploaded_at = ?, updated_at = ?, compressed_size = ? WHERE id = ?",
        )
        .bind(&facts.file_type)
        .bind(&facts.content_type)
        .bind(facts.size)
        .bind(&facts.sha256)
        .bind(status)
        .bind(now)
        .bind(now)
        .bind(facts.compressed_size)
        .bind(&file_id)
        .execute(&mut *tx)
        .await?;
        let job_id = match close {
            Close::Enqueue(max_attempts) => {
                let id = uuid::Uuid::now_v7().to_string();
                insert_job(&mut tx, &id, &file_id, max_attempts, "{}", now).await?;
                Some(id)
            }
            Close::Pending => None,
            Close::Quarantine(q) => {
                quarantine_file_row(&mut tx, &file_id, q, now).await?;
                None
            }
        };
        sqlx::query("DELETE FROM upload_parts WHERE upload_id = ?")
            .bind(upload_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM uploads WHERE id = ?")
            .bind(upload_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(job_id)
    }
}

/// Mark a file `quarantined` with its scan and error (in the caller's transaction).
async fn quarantine_file_row(
    tx: &mut sqlx::SqliteConnection,
    file_id: &str,
    q: &Quarantine,
    now: i64,
) -> CatalogResult<()> {
    sqlx::query(
        "UPDATE files SET status = 'quarantined', step = 'virus_scan', message = NULL, \
         virus_scan = ?, error_code = 'quarantined', error_message = ?, processed_at = ?, \
         updated_at = ? WHERE id = ?",
    )
    .bind(q.virus_scan.to_string())
    .bind(&q.message)
    .bind(now)
    .bind(now)
    .bind(file_id)
    .execute(tx)
    .await?;
    Ok(())
}

/// Insert a file row with `status`, uploaded and updated `now`.
async fn insert_file_row(
    tx: &mut sqlx::SqliteConnection,
    f: &NewFile,
    status: &str,
    now: i64,
) -> CatalogResult<()> {
    sqlx::query(
        "INSERT INTO files (id, owner, filename, file_type, content_type, size, sha256, status, \
         purpose, metadata, storage_key, uploaded_at, updated_at, compressed_size) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
    .bind(now)
    .bind(f.compressed_size)
    .execute(tx)
    .await?;
    Ok(())
}

/// Why a statement conditional on an upload's lock changed nothing: the upload is gone
/// ([`CatalogError::NotFound`]) or another request holds its lock ([`CatalogError::Conflict`]).
async fn missing_or_locked(
    conn: &mut sqlx::SqliteConnection,
    upload_id: &str,
) -> CatalogResult<CatalogError> {
    let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM uploads WHERE id = ?")
        .bind(upload_id)
        .fetch_optional(conn)
        .await?;
    Ok(match exists {
        Some(_) => CatalogError::Conflict("another request holds the upload's lock".into()),
        None => CatalogError::NotFound,
    })
}

async fn insert_job(
    tx: &mut sqlx::SqliteConnection,
    id: &str,
    file_id: &str,
    max_attempts: u32,
    options: &str,
    now: i64,
) -> CatalogResult<()> {
    sqlx::query(
        "INSERT INTO jobs (id, file_id, status, max_attempts, run_at, options, trace_context, \
         created_at, updated_at) VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(file_id)
    .bind(i64::from(max_attempts))
    .bind(now)
    .bind(options)
    // The job joins the trace of the request that queues it.
    .bind(crate::telemetry::current_trace_context())
    .bind(now)
    .bind(now)
    .execute(tx)
    .await?;
    Ok(())
}
