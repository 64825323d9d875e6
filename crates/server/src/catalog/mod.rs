//! The catalog: files, jobs and results (`DESIGN.md` section 1). One trait, [`Catalog`], with a
//! backend per database; the queue's claim/lease/retry statements live here too because they are
//! statements on the jobs table.

mod cached;
mod model;
mod postgres;
mod sqlite;

pub use cached::{CachedCatalog, FileCache};
pub use model::{
    ClaimedJob, FileFilter, FileRecord, FileStatus, FinishedUpload, JobFailure, NewFile, NewUpload,
    Quarantine, ResultRecord, StoredResult, UploadKind, UploadPart, UploadRecord,
};
pub use postgres::PostgresCatalog;
pub use sqlite::SqliteCatalog;

use async_trait::async_trait;
use std::time::Duration;
use tokio::sync::broadcast;

/// Why a catalog call failed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// No such row (or not the caller's).
    #[error("not found")]
    NotFound,
    /// The row is not in a state that allows the change.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// Applying migrations failed.
    #[error("migration failed: {0}")]
    Migrate(sqlx::migrate::MigrateError),
    /// A stored JSON column did not parse.
    #[error("stored JSON is invalid: {0}")]
    Json(#[from] serde_json::Error),
}

impl From<sqlx::migrate::MigrateError> for CatalogError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        CatalogError::Migrate(e)
    }
}

impl From<sqlx::Error> for CatalogError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => CatalogError::NotFound,
            other => CatalogError::Database(other),
        }
    }
}

/// Shorthand for catalog results.
pub type CatalogResult<T> = Result<T, CatalogError>;

/// Files, jobs and results, whatever the database.
///
/// Times are Unix epoch milliseconds. Every call that names a file by id and owner returns
/// [`CatalogError::NotFound`] for another owner's file, so callers cannot tell it exists.
#[async_trait]
pub trait Catalog: Send + Sync {
    /// Apply pending migrations.
    async fn migrate(&self) -> CatalogResult<()>;
    /// Revert the latest applied migration (its `.down.sql`); returns its version, or `None`
    /// when none is applied. For operators rolling back a release (`fileproc migrate --down`).
    async fn migrate_down(&self) -> CatalogResult<Option<i64>>;
    /// A cheap round trip, for `/ready`.
    async fn ping(&self) -> CatalogResult<()>;

    /// Signals that a job may have become runnable, sent by any instance sharing the database
    /// (an insert with a job, [`Catalog::enqueue`], a retry, a job handed back), so that workers
    /// can wake at once instead of at their next poll. A signal carries nothing: it means "try a
    /// claim". It is a hint, not a guarantee: workers must keep polling (jobs due after a backoff
    /// and expired leases are never signalled), and a receiver that lags gets
    /// [`broadcast::error::RecvError::Lagged`], which means the same.
    ///
    /// - PostgreSQL: `LISTEN fileproc_jobs` on one dedicated connection, started by the first
    ///   call and stopped when the catalog is dropped; a lost connection is re-established and
    ///   also signals (notifications sent meanwhile are lost).
    /// - SQLite: `None`; one instance owns the file and the in-process wake-up covers it.
    async fn subscribe_jobs(&self) -> CatalogResult<Option<broadcast::Receiver<()>>> {
        Ok(None)
    }

    /// Insert a stored file; with `enqueue`, also its processing job (same transaction), and the
    /// file starts `queued` instead of `pending`. Returns the job id when one was created.
    async fn insert_file(
        &self,
        file: &NewFile,
        enqueue: Option<u32>,
    ) -> CatalogResult<Option<String>>;
    /// One file of an owner.
    async fn get_file(&self, owner: &str, id: &str) -> CatalogResult<FileRecord>;
    /// A file whoever owns it, for workers.
    async fn get_file_by_id(&self, id: &str) -> CatalogResult<FileRecord>;
    /// An owner's files, newest first, after `filter.cursor` (a file id), at most `filter.limit`.
    async fn list_files(&self, owner: &str, filter: &FileFilter) -> CatalogResult<Vec<FileRecord>>;
    /// Delete a file with its jobs and result; returns the deleted row (for its blob keys).
    async fn delete_file(&self, owner: &str, id: &str) -> CatalogResult<FileRecord>;
    /// Record a processing progress of a file (0..1) and its step.
    async fn set_progress(&self, id: &str, progress: f64, step: &str) -> CatalogResult<()>;

    /// Queue (or re-queue) processing of a file. [`CatalogError::Conflict`] while a job for it is
    /// queued or running. Returns the new job's id.
    async fn enqueue(
        &self,
        owner: &str,
        file_id: &str,
        max_attempts: u32,
        options: &serde_json::Value,
    ) -> CatalogResult<String>;
    /// Claim the next runnable job (queued and due, or running with an expired lease) for
    /// `worker`, with a lease of `lease`. The file moves to `processing`.
    async fn claim_job(&self, worker: &str, lease: Duration) -> CatalogResult<Option<ClaimedJob>>;
    /// How many jobs wait in the queue (`queued`, due or backing off; not claimed): the
    /// `fileproc_queue_depth` gauge, read at each scrape (an index lookup).
    async fn queued_jobs(&self) -> CatalogResult<u64>;
    /// Extend a job's lease; `false` if the worker no longer holds it.
    async fn renew_lease(&self, job_id: &str, worker: &str, lease: Duration)
    -> CatalogResult<bool>;
    /// Store the result and mark job and file completed, atomically; `false` if the worker no
    /// longer held the lease (another worker took the job over).
    async fn complete_job(
        &self,
        job: &ClaimedJob,
        worker: &str,
        result: &StoredResult,
    ) -> CatalogResult<bool>;
    /// Record a failed attempt: re-queue after `retry_in`, or fail job and file for good.
    async fn fail_job(
        &self,
        job: &ClaimedJob,
        worker: &str,
        failure: &JobFailure,
    ) -> CatalogResult<()>;
    /// Hand a running job back to the queue at once (graceful shutdown).
    async fn release_job(&self, job: &ClaimedJob, worker: &str) -> CatalogResult<()>;

    /// The stored result of a file.
    async fn get_result(&self, file_id: &str) -> CatalogResult<ResultRecord>;

    // ---- Virus scans (`security.virus_scanning`, see `scan`). ----

    /// Record the outcome of a file's virus scan (`virus_scan`, a JSON object), whatever the
    /// file's status; it replaces the previous one. [`CatalogError::NotFound`] when the file is
    /// gone.
    async fn record_virus_scan(&self, file_id: &str, scan: &serde_json::Value)
    -> CatalogResult<()>;
    /// The scan of a claimed job found threats: atomically, the job fails for good (code
    /// `quarantined`, no retry) and its file becomes `quarantined` with the scan and the
    /// error (`quarantined`, `quarantine.message`). `false`, changing nothing, if the worker no
    /// longer holds the lease.
    async fn quarantine_job(
        &self,
        job: &ClaimedJob,
        worker: &str,
        quarantine: &Quarantine,
    ) -> CatalogResult<bool>;
    /// Insert a stored file straight into `quarantined`, with no job: an upload whose bytes were
    /// refused by type and found infected, kept as evidence rather than dropped.
    async fn insert_quarantined(
        &self,
        file: &NewFile,
        quarantine: &Quarantine,
    ) -> CatalogResult<()>;

    // ---- Uploads in progress (chunked and tus), see `ingest::resumable`. ----
    //
    // An upload is a row in `uploads` beside its file row (status `uploading`, deleted with it:
    // deleting the file deletes the upload and its parts), and a row in `upload_parts` per
    // stored piece. A request that must be alone on an upload (a tus PATCH, a completion) holds
    // its lock: a token with a lease, so a crashed instance's lock lapses by itself.

    /// Insert the file row (status `uploading`) and the upload row, in one transaction.
    async fn create_upload(&self, upload: &NewUpload) -> CatalogResult<()>;
    /// An owner's upload by its id; [`CatalogError::NotFound`] for another owner's.
    async fn get_upload(&self, owner: &str, upload_id: &str) -> CatalogResult<UploadRecord>;
    /// An owner's upload by its file's id (tus names uploads by file id).
    async fn get_upload_by_file(&self, owner: &str, file_id: &str) -> CatalogResult<UploadRecord>;
    /// Record a chunked part, replacing one with the same number; the upload's `offset` becomes
    /// the sum of its parts' sizes and `expires_at` moves to `expires_at`. Returns the storage
    /// key of the replaced part, for the caller to delete (`None` for a new part, or one stored
    /// again under the same key). Concurrent puts of one part take turns: each gets the key the
    /// one before it stored. [`CatalogError::Conflict`] while another request holds the lock (a
    /// completion); [`CatalogError::NotFound`] when the upload is gone.
    async fn put_upload_part(
        &self,
        part: &UploadPart,
        expires_at: i64,
    ) -> CatalogResult<Option<String>>;
    /// The parts of an upload, by part number.
    async fn list_upload_parts(&self, upload_id: &str) -> CatalogResult<Vec<UploadPart>>;
    /// Take the upload's lock for `token` for `lease` (also when the lock lapsed, whoever held
    /// it) and return the row as it is under the lock. [`CatalogError::Conflict`] while another
    /// token holds it; [`CatalogError::NotFound`] when the upload is gone.
    async fn lock_upload(
        &self,
        upload_id: &str,
        token: &str,
        lease: Duration,
    ) -> CatalogResult<UploadRecord>;
    /// Extend the lock `token` holds; `false` if it no longer does.
    async fn renew_upload_lock(
        &self,
        upload_id: &str,
        token: &str,
        lease: Duration,
    ) -> CatalogResult<bool>;
    /// Release the lock if `token` holds it (a no-op otherwise).
    async fn unlock_upload(&self, upload_id: &str, token: &str) -> CatalogResult<()>;
    /// Under the lock `token` holds, in one transaction: append a tus segment (`part`, when
    /// given: `part_number` is the next number, its size is added to `offset`), set the length
    /// when `length` is given and it was deferred, move `expires_at`, and release the lock.
    /// Returns the row after the change; [`CatalogError::Conflict`] if `token` no longer holds
    /// the lock (the caller then deletes the segment's blob; a lapsed lock still counts while no
    /// other token took it), [`CatalogError::NotFound`] when the upload is gone. The segment is
    /// stored under `upload_id` (its own `upload_id` is not read).
    async fn append_upload_segment(
        &self,
        upload_id: &str,
        token: &str,
        part: Option<&UploadPart>,
        length: Option<i64>,
        expires_at: i64,
    ) -> CatalogResult<UploadRecord>;
    /// Under the lock `token` holds, in one transaction: write what the bytes are to the file
    /// row, which leaves `uploading` for `pending`, or `queued` with a new job when `enqueue`
    /// gives the job's max attempts; then delete the upload and its part rows. Returns the job
    /// id when one was created. [`CatalogError::Conflict`] if `token` no longer holds the lock
    /// (a lapsed lock still counts while no other token took it), [`CatalogError::NotFound`]
    /// when the upload is gone.
    async fn finish_upload(
        &self,
        upload_id: &str,
        token: &str,
        facts: &FinishedUpload,
        enqueue: Option<u32>,
    ) -> CatalogResult<Option<String>>;
    /// As [`Catalog::finish_upload`] without a job, the file going to `quarantined` (with the
    /// scan and the error) instead of `pending`: an upload whose bytes were refused by type and
    /// found infected. Same errors; only `upload.id` and `upload.file_id` are read.
    async fn quarantine_upload(
        &self,
        upload: &UploadRecord,
        token: &str,
        facts: &FinishedUpload,
        quarantine: &Quarantine,
    ) -> CatalogResult<()>;
    /// Delete an upload, its part rows and its file row (still `uploading`); returns the
    /// deleted upload. [`CatalogError::NotFound`] when it is gone; [`CatalogError::Conflict`],
    /// changing nothing, if its file somehow left `uploading` (its blob may be in use).
    async fn delete_upload(&self, upload_id: &str) -> CatalogResult<UploadRecord>;
    /// Uploads whose `expires_at` is before `now` and whose lock is free or lapsed, oldest
    /// first, at most `limit`.
    async fn expired_uploads(&self, now: i64, limit: i64) -> CatalogResult<Vec<UploadRecord>>;
}

/// Where a completed upload's file goes (the backends' `finish_upload` and `quarantine_upload`).
#[derive(Clone, Copy)]
enum Close<'a> {
    /// `pending`.
    Pending,
    /// `queued`, with a job of this many attempts at most.
    Enqueue(u32),
    /// `quarantined`.
    Quarantine(&'a Quarantine),
}

/// The SQL that reads the highest migration version recorded as applied.
const LATEST_MIGRATION_SQL: &str = "SELECT MAX(version) FROM _sqlx_migrations WHERE success";

/// The answer to [`LATEST_MIGRATION_SQL`]: `None` before the first migration (no table yet, or
/// no row).
fn latest_applied_migration(
    answer: Result<Option<i64>, sqlx::Error>,
) -> CatalogResult<Option<i64>> {
    match answer {
        Ok(version) => Ok(version),
        // No migrations table: nothing was ever applied.
        Err(sqlx::Error::Database(e)) if e.message().contains("_sqlx_migrations") => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The version to undo down to so that exactly `latest` is reverted: the next lower version the
/// migrator knows, or 0.
fn previous_migration(migrator: &sqlx::migrate::Migrator, latest: i64) -> i64 {
    migrator
        .iter()
        .map(|m| m.version)
        .filter(|v| *v < latest)
        .max()
        .unwrap_or(0)
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
