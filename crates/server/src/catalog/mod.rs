//! The catalog: files, jobs and results (`DESIGN.md` section 1). One trait, [`Catalog`], with a
//! backend per database; the queue's claim/lease/retry statements live here too because they are
//! statements on the jobs table.

mod model;
mod postgres;
mod sqlite;

pub use model::{
    ClaimedJob, FileFilter, FileRecord, FileStatus, JobFailure, NewFile, ResultRecord, StoredResult,
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
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
